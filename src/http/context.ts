import type { DomainDeps } from '../domain/context.js';
import type { OutputBytesFn } from '../domain/usage.js';

/** What route plugins get: the domain's dependencies plus hooks other modules (render jobs) plug into. */
export interface AppContext {
  deps: DomainDeps;
  hooks: {
    /** runs after a deploy is deleted (cancels its unfinished render jobs) */
    onDeployDeleted?: (deployId: string) => Promise<void>;
    /** bytes of render outputs and managed PDFs, for /v1/usage */
    outputBytes?: OutputBytesFn;
  };
  /** readiness checks beyond store and blobs (e.g. the renderer) */
  readiness: Record<string, () => Promise<unknown>>;
}
