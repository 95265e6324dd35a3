import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { findChromium } from '../../packages/engine/src/chromium/find-chromium.js';

/** The dashboard's browser tests: the renderer's own headless shell, driven by playwright-core. */
export async function launchBrowser(): Promise<Browser> {
  const found = await findChromium();
  // the renderer's flags minus its dead proxy: this browser must reach the test server on loopback
  const args = found.args.filter((a) => !a.startsWith('--proxy-server') && !a.startsWith('--proxy-bypass-list'));
  return chromium.launch({ executablePath: found.executablePath, args, headless: true });
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core on the page as it is now: no violations of WCAG 2.x A/AA (labels, contrast, names, landmarks). */
export async function axe(page: Page, what: string) {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const r = await (window as any).axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return r.violations.map((v: any) => `${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n: any) => `${n.target.join(' ')} ${n.html.slice(0, 120)} ${(n.failureSummary ?? '').slice(0, 200)}`).join(', ')}`);
  });
  expect(violations, `axe on ${what}`).toEqual([]);
}
