// The "hand-written puppeteer server" peer of `npm run bench:peers`: one browser, a page per request,
// setContent + load + pdf. puppeteer-core comes from the peers' temp folder (PEERS_DIR), never from the project.
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const puppeteer = createRequire(join(process.env.PEERS_DIR, 'package.json'))('puppeteer-core');
const browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM_PATH, args: JSON.parse(process.env.CHROMIUM_ARGS), headless: true });

const server = createServer(async (req, res) => {
  let html = '';
  for await (const chunk of req) html += chunk;
  const page = await browser.newPage();
  try {
    await page.setContent(html, { waitUntil: 'load' });
    const pdf = await page.pdf({ preferCSSPageSize: true, printBackground: true });
    res.writeHead(200, { 'content-type': 'application/pdf' }).end(pdf);
  } catch (err) {
    res.writeHead(500).end(String(err));
  } finally {
    await page.close();
  }
});
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port, version: puppeteer.PUPPETEER_REVISIONS ? 'puppeteer-core' : '' }));
process.on('disconnect', () => process.exit(0));
// puppeteer's own SIGTERM handler closes the browser but leaves this process running (and the benchmark waiting on it)
process.on('SIGTERM', () => void browser.close().finally(() => process.exit(0)));
