/**
 * What went wrong inside a rendered page (spec §9.1), kept with its render job. The shape and its bounds are the
 * render engine's contract (`RenderDiagnostics`); this is the one place the server's layers get them from, and it
 * imports the engine's contract module only (`@press-cloud/engine/renderer`), never the package root, which loads
 * the Chromium driver into whatever process imports the model.
 */
import { DIAGNOSTICS_MAX_BYTES, DIAGNOSTICS_MAX_ITEMS, emptyDiagnostics, type RenderDiagnostics } from '@press-cloud/engine/renderer';

export { DIAGNOSTICS_MAX_BYTES, DIAGNOSTICS_MAX_ITEMS, emptyDiagnostics, type RenderDiagnostics };

/** A job's stored diagnostics (JSON text), or null when none were stored. */
export function parseDiagnostics(json: string | null): RenderDiagnostics | null {
  return json === null ? null : (JSON.parse(json) as RenderDiagnostics);
}
