/**
 * @press-cloud/sdk — typed client for the Press Cloud `/v1` API.
 *
 *   const client = new PressCloud();            // PRESS_CLOUD_API, PRESS_CLOUD_TOKEN
 *   const { deployId } = await client.deployDirectory('./dist', { slug: 'invoice' });
 *   const job = await client.render({ deployId, payload: { number: 'INV-1' } });
 *   await client.download(job.id, { to: 'invoice.pdf' });
 *
 * The core works wherever `fetch` and Web Crypto exist; `deployDirectory` and `download({to})` load Node modules
 * lazily and need Node.
 */
export { PressCloud, isTerminal, newIdempotencyKey } from './client.js';
export type { CallOptions, CreateOptions, DownloadOptions, PressCloudOptions, RenderOptions } from './client.js';
export { PressCloudError, PressCloudTimeoutError } from './errors.js';
export { Transport } from './transport.js';
export { mimeType } from './mime.js';
export { diagnosticLines } from './diagnostics.js';
export { verifyWebhook, PressWebhookError } from './webhooks.js';
export type { VerifyWebhookOptions, WebhookEvent, WebhookFailure, WebhookHeaders } from './webhooks.js';
export type { DeployDirectoryOptions, DeployDirectoryResult, DeployProgress, DeployTarget } from './node/deploy-directory.js';
export type * from './types.js';
