#!/usr/bin/env node
// The Press Cloud server and its operator commands, from the built JavaScript in dist/ (`npm run build`;
// the published package ships it built). `--version` alone is answered before the server's modules load.
import { existsSync, readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const entry = new URL('../dist/cli/press-cloud.js', import.meta.url);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v' || argv[0] === '-V')) {
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
} else if (!existsSync(entry)) {
  process.stderr.write('press-cloud: not built yet: run `npm run build` (or `npm start`, which builds first) in the repository\n');
  process.exitCode = 1;
} else {
  const { main } = await import(entry.href);
  await main(argv);
}
