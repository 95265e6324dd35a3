#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so a fresh `npm ci` is all the server needs.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/press-cloud.ts');
await main(process.argv.slice(2));
