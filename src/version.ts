import { readFileSync } from 'node:fs';

/** The server's version, from package.json (src/ and dist/ both sit one level below it): --version, /docs. */
export const PACKAGE_VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
