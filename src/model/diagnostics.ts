/**
 * What went wrong inside a rendered page (spec §9.1), kept with its render job. The shape and its bounds are the
 * render engine's (`RenderDiagnostics` in @press-cloud/engine); the job stores them as JSON.
 */
import type { RenderDiagnostics } from '@press-cloud/engine';

export { DIAGNOSTICS_MAX_BYTES, DIAGNOSTICS_MAX_ITEMS, emptyDiagnostics } from '@press-cloud/engine';
export type { RenderDiagnostics } from '@press-cloud/engine';

/** A job's stored diagnostics (JSON text), or null when none were stored. */
export function parseDiagnostics(json: string | null): RenderDiagnostics | null {
  return json === null ? null : (JSON.parse(json) as RenderDiagnostics);
}
