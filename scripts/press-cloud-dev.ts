// `npm run dev -- <command>`: press-cloud from its TypeScript sources (tsx), without a build. For development and
// the tests that start the server as a child process; production runs the built bin/press-cloud.js.
import { main } from '../src/cli/press-cloud.ts';

await main(process.argv.slice(2));
