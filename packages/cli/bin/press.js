#!/usr/bin/env node
// The press CLI. Runs its TypeScript sources through tsx, like the server, so `npm ci` is all it needs.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
