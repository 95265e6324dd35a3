#!/usr/bin/env node
// The press CLI, from its built JavaScript (npm run build). `-v`/`--version` alone is answered here, before
// anything else loads, so scripts that probe the CLI pay only Node's own start-up.
import { readFileSync } from 'node:fs';

// `press … | head`: a closed pipe ends the output quietly, as in other CLIs
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '-v' || argv[0] === '--version' || argv[0] === '-V')) {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${version}\n`);
} else {
  const { main } = await import('../dist/main.js');
  process.exitCode = await main(argv);
}
