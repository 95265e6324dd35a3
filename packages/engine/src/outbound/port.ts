/**
 * Requests to tenant-controlled destinations (webhook URLs, rendered pages' external requests). One policy
 * (`domain/net-policy.ts`) decides on the resolved addresses, and the request connects to the address that was
 * checked, never resolving the name again (no DNS-rebinding window). The implementation is `outbound.ts` beside it.
 */

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** `address: null` when `allowPrivate` skipped the policy: the request then resolves the name as usual. */
export type OutboundDecision =
  | { allowed: true; address: ResolvedAddress | null }
  | { allowed: false; kind: RefusalKind; reason: string };

/** why a URL was refused: its scheme, its name didn't resolve, or an address (or reserved name) the policy refuses */
export type RefusalKind = 'scheme' | 'unresolved' | 'address';

export interface OutboundCheck {
  /** no address policy (PRESS_WEBHOOK_ALLOW_PRIVATE, development): only the scheme is checked, nothing resolved */
  allowPrivate?: boolean;
}

export interface OutboundRequest extends OutboundCheck {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: Buffer | null;
  /** bigger (decoded) response bodies fail the request */
  maxBytes: number;
  signal: AbortSignal;
}

export interface OutboundResponse {
  status: number;
  /** hop-by-hop headers removed; the body is already decoded (no content-encoding) */
  headers: Record<string, string>;
  body: Buffer;
}

/** The request was refused by the address policy before anything was sent. */
export class OutboundRefusedError extends Error {
  constructor(
    readonly kind: RefusalKind,
    readonly reason: string,
  ) {
    super(`refused: ${reason}`);
    this.name = 'OutboundRefusedError';
  }
}

export interface Outbound {
  /** Whether `url` may be requested, judged on every address its host resolves to. Never rejects. */
  check(url: URL, opts?: OutboundCheck): Promise<OutboundDecision>;
  /**
   * Checks `url`, then sends the request to the checked address (TLS still verifies the host name). Redirects
   * are not followed. Rejects with `OutboundRefusedError` when the policy refuses, else with the network error.
   */
  request(req: OutboundRequest): Promise<OutboundResponse>;
}
