// Starts Browserless (the peer of `npm run bench:peers`) from its SDK, as its own build/index.js does, but with the
// routes of browsers that are not installed here (Chrome, Edge, Firefox, WebKit) turned off: its stock entry refuses
// to start without them. Run by Node ≥ 24 with the working directory at the install folder.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// from the peers' temp folder (PEERS_DIR), never from the project
const sdk = join(process.env.PEERS_DIR, 'node_modules/@browserless.io/browserless/build/exports.js');
const { Browserless, availableBrowsers } = await import(pathToFileURL(sdk).href);

const installed = await availableBrowsers;
const browserless = new Browserless();
const disabled = browserless.routeIsDisabled.bind(browserless);
browserless.routeIsDisabled = (route) => disabled(route) || (!!route.browser && !installed.includes(route.browser));
await browserless.start();
process.on('SIGTERM', async () => {
  await browserless.stop();
  process.exit(0);
});
