import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChromiumRenderer } from '../../src/adapters/chromium/chromium-renderer.js';
import { jsonPayload, memoryLogger, pdfText, renderRequest } from './support.js';

// Prepared documents: an account rendering the same version + entry again finds it already open on a warm page.
const logger = memoryLogger();
let renderer: ChromiumRenderer;

beforeAll(async () => {
  renderer = new ChromiumRenderer({ capacity: 2, logger, preparedMaxAgeMs: 2_000 });
  await renderer.start();
});

afterAll(async () => {
  await renderer?.close();
});

/** Renders the storage fixture, then leaves the released page time to open the document again. */
const storageRender = async (accountId: string, writer: string, deployVersionId = 'dv_storage') => {
  const result = await renderer.render(
    renderRequest('storage', { accountId, deployVersionId, payload: jsonPayload({ writer }) }),
  );
  await settle();
  return result;
};
const settle = () => new Promise((r) => setTimeout(r, 250));

describe('prepared documents', () => {
  it('opens a repeated document ahead; each job still gets a fresh document with only its own data', async () => {
    const first = await storageRender('acct_p1', 'W1');
    const second = await storageRender('acct_p1', 'W2');
    expect(first.prepared).toBe(false);
    expect(second.prepared).toBe(false); // the repeat is noticed here; the page is prepared after it
    const third = await storageRender('acct_p1', 'W3');
    const fourth = await storageRender('acct_p1', 'W4');
    expect(third.prepared).toBe(true);
    expect(fourth.prepared).toBe(true);
    expect(third.timings.navigateMs).toBeLessThan(second.timings.navigateMs + 1);
    // Storage is still wiped between jobs, and the payload held until the job was bound is this job's.
    expect(await pdfText(third.pdf)).toContain('seen=none cookie=none writer=W3');
    expect(await pdfText(fourth.pdf)).toContain('seen=none cookie=none writer=W4');
  });

  it('serves payload, env and secrets of the job that takes the prepared page, never an earlier one', async () => {
    const render = (n: number) =>
      renderer.render(
        renderRequest('payload-json', {
          accountId: 'acct_p2',
          deployVersionId: 'dv_json',
          payload: jsonPayload({ invoice: `INV-${n}`, customer: { name: `Customer ${n}` } }),
          env: { REGION: `region-${n}` },
          secrets: { API_TOKEN: `sk_token_${n}_abcdef` },
        }),
      );
    for (const n of [1, 2]) {
      await render(n);
      await settle();
    }
    const third = await render(3);
    expect(third.prepared).toBe(true);
    const text = await pdfText(third.pdf);
    expect(text).toContain('Invoice INV-3 for Customer 3');
    expect(text).toContain('region=region-3');
    expect(text).toContain('token=sk_token_3_abcdef');
    expect(text).not.toMatch(/INV-[12]|region-[12]|sk_token_[12]/);
    // The prepared document's console output is logged under the job that took it, secrets masked.
    const logged = JSON.stringify(logger.entries);
    expect(logged).not.toContain('sk_token_3_abcdef');
  });

  it('is used only for the same version and account, and only while fresh', async () => {
    await storageRender('acct_p3', 'A');
    await storageRender('acct_p3', 'B'); // prepares dv_storage for acct_p3
    // Another version of the same account: the prepared page is reset and opens this version instead.
    const other = await storageRender('acct_p3', 'C', 'dv_other');
    expect(other.prepared).toBe(false);
    expect(await pdfText(other.pdf)).toContain('seen=none cookie=none writer=C');
    // Another account never gets it (pages are never shared across accounts).
    await storageRender('acct_p3', 'D');
    await storageRender('acct_p3', 'E');
    const stranger = await storageRender('acct_p4', 'F');
    expect(stranger.prepared).toBe(false);
    // Older than preparedMaxAgeMs: not used (its clock would be too far behind the job's).
    await new Promise((r) => setTimeout(r, 2_300));
    const late = await storageRender('acct_p3', 'G');
    expect(late.prepared).toBe(false);
    expect(await pdfText(late.pdf)).toContain('seen=none cookie=none writer=G');
  });

  it('prepares nothing when turned off or without a version id', async () => {
    const off = new ChromiumRenderer({ capacity: 1, preparedMaxAgeMs: 0 });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await off.render(renderRequest('simple', { accountId: 'acct_off', deployVersionId: 'dv_simple' }));
        expect(r.prepared).toBe(false);
      }
    } finally {
      await off.close();
    }
    for (let i = 0; i < 3; i++) {
      expect((await renderer.render(renderRequest('simple', { accountId: 'acct_noid' }))).prepared).toBe(false);
    }
  });

  it('a document that fails to open while prepared fails its job as it would have anyway', async () => {
    const req = () => renderRequest('never-ready', { accountId: 'acct_p5', deployVersionId: 'dv_never', timeoutMs: 600 });
    for (let i = 0; i < 3; i++) {
      await expect(renderer.render(req())).rejects.toMatchObject({ code: 'render_timeout' });
      await settle();
    }
    // the account keeps rendering afterwards
    const ok = await renderer.render(renderRequest('simple', { accountId: 'acct_p5', deployVersionId: 'dv_simple' }));
    expect(ok.pageCount).toBe(1);
  });
});
