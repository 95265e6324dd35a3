import http from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import type { InternalCertificate } from './internal-certificate.js';

/** A request the guard refused: `CONNECT host:port` (TLS, WebSockets, TURN over TCP) or `METHOD url` (plain HTTP). */
export interface RefusedRequest {
  target: string;
  at: number;
}

const RECENT = 64;
const FORBIDDEN = 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';

/** One request of a browser context, as its proxy received it (inside a TLS tunnel, or plain HTTP). */
export interface ProxiedRequest {
  /** absolute URL: `https://` + the tunnel's authority + path for tunnelled requests */
  url: URL;
  method: string;
  headers: IncomingHttpHeaders;
  /** the request body (read when asked; larger bodies are refused) */
  body(): Promise<Buffer>;
  /** resolves once the answer has been handed to the browser (written, refused, or the connection gone) */
  readonly sent: Promise<void>;
}

/** What the context's proxy answers: a response, or `refused` (the page sees a network error). */
export type ProxyAnswer = { status: number; headers: Record<string, string>; body?: Buffer | string } | 'refused';

/** Answers one browser context's requests (RenderSession while a render holds the page). */
export type ContextHandler = (req: ProxiedRequest) => Promise<ProxyAnswer>;

/** A listener for one browser context: its `--proxy-server` value, closed with the context. */
export interface ContextProxy {
  readonly url: string;
  close(): Promise<void>;
  /** resolves once closed */
  readonly closed: Promise<void>;
}

const MAX_REQUEST_BODY = 8 * 1024 * 1024;
/**
 * How a request is refused inside a tunnel (or on plain HTTP): two different Content-Lengths, which Chromium
 * rejects as `net::ERR_RESPONSE_HEADERS_MULTIPLE_CONTENT_LENGTH` — a network error for the page, as an aborted
 * request was under interception, and (unlike a dropped connection) never retried on a fresh socket.
 */
const REFUSED = 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nContent-Length: 1\r\nConnection: close\r\n\r\n';

/**
 * The browser's only way onto the network, and the one place where a page's requests are judged. Chromium is
 * launched with `--proxy-server` pointing at the browser-wide listener here (loopback included, `<-loopback>`),
 * which refuses everything: the default context, and anything not in a render's context, ends there. Every render
 * context has a listener of its own (`openContext`, Playwright's per-context proxy): every request its network
 * stack makes — pages, iframes, dedicated and shared workers, worklets, EventSource, WebSockets, WebRTC TURN over
 * TCP (non-proxied UDP is disabled), preconnects, beacons, prefetches — arrives there, and is answered by the render
 * holding the context's page (RenderSession: the deploy's files, the payload and environment, and — on plans with
 * external network — public addresses through the Outbound module, DNS pinned) or refused. There is no request
 * interception: nothing reaches the network around this module, and it doesn't depend on a port being unused (the
 * listeners are sockets we hold).
 */
export class GuardProxy {
  private server: http.Server | null = null;
  private sockets = new Set<Socket>();
  private url: string | null = null;
  /** the `--proxy-server` value while listening */
  get proxyUrl(): string | null {
    return this.url;
  }

  /** requests refused since start */
  refused = 0;
  /** the latest refused requests (targets only: paths and queries of plain-HTTP requests are dropped) */
  readonly recent: RefusedRequest[] = [];

  /** closers of the context listeners still open */
  private readonly contexts = new Set<() => void>();
  private secureContext: tls.SecureContext | null = null;

  constructor(private readonly onRefused: (target: string) => void = () => undefined) {}

  /**
   * A proxy for one browser context (Playwright's per-context `proxy`): every request of the context's pages,
   * frames and workers arrives here. Tunnels (`CONNECT host:port`) are opened and their TLS terminated with
   * `certificate` — which Chromium accepts for any name because its key is pinned at launch — so each request is
   * seen whole (URL, method, headers, body) and answered by `handler`: the deploy's files and data, an allowed
   * external request fetched through Outbound, or a refusal. Nothing is forwarded as bytes; a tunnel that does not
   * speak TLS (TURN over TCP, `ws://`) and any WebSocket upgrade are refused. A listener per context is the render
   * isolation: a context's requests can only reach its own listener (a page asking for another loopback port is
   * refused by its own), and the listener answers only for the context's current render.
   */
  async openContext(certificate: InternalCertificate, handler: ContextHandler): Promise<ContextProxy> {
    this.secureContext ??= tls.createSecureContext({ cert: certificate.cert, key: certificate.key });
    const secureContext = this.secureContext;
    const refuse = (target: string, socket: Socket | null) => {
      this.refuse(target);
      if (socket && !socket.destroyed) socket.end(REFUSED);
    };
    const answer = (req: http.IncomingMessage, res: http.ServerResponse, origin: string) => {
      let url: URL;
      try {
        url = new URL(origin ? `${origin}${req.url ?? '/'}` : (req.url ?? ''));
        if (origin && new URL(origin).host !== url.host) throw new Error('authority changed');
      } catch {
        return refuse(`${req.method} ${origin || originOf(req.url)}`, res.socket);
      }
      let markSent = () => undefined as void;
      const proxied: ProxiedRequest = {
        url,
        method: req.method ?? 'GET',
        headers: req.headers,
        body: () => readBody(req),
        sent: new Promise<void>((resolve) => (markSent = resolve)),
      };
      res.once('close', markSent);
      handler(proxied)
        .then((a) => {
          if (a === 'refused') {
            refuse(`${proxied.method} ${safeOrigin(url)}`, res.socket);
            return markSent();
          }
          // Outbound joins several Set-Cookie headers with newlines, which a header value cannot carry.
          const headers: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(a.headers)) headers[k] = v.includes('\n') ? v.split('\n') : v;
          res.writeHead(a.status, headers).end(req.method === 'HEAD' ? undefined : a.body, markSent);
        })
        .catch(() => {
          res.socket?.destroy();
          markSent();
        });
    };
    // Requests inside the tunnels (TLS terminated here): `Host` must be the tunnel's authority.
    const inner = http.createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => {
      const origin = `https://${(req.socket as tls.TLSSocket & { pressAuthority?: string }).pressAuthority ?? ''}`;
      answer(req, res, origin);
    });
    inner.on('upgrade', (req: http.IncomingMessage, socket: Socket) => {
      const authority = (socket as tls.TLSSocket & { pressAuthority?: string }).pressAuthority ?? '';
      refuse(`UPGRADE https://${authority}`, socket);
    });
    inner.on('clientError', (_err, socket) => socket.destroy());
    // A tunnel kept open between renders saves the next render a TLS handshake.
    inner.keepAliveTimeout = 60_000;
    const server = http.createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => answer(req, res, ''));
    server.on('connect', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
      const authority = req.url ?? '';
      socket.on('error', () => socket.destroy());
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      // The first bytes say whether the tunnel speaks TLS (a ClientHello starts with a handshake record, 0x16).
      // Anything else (TURN over TCP, a ws:// WebSocket) is refused without being read further.
      const open = (first: Buffer) => {
        if (first[0] !== 0x16) {
          this.refuse(`CONNECT ${authority}`);
          socket.destroy();
          return;
        }
        socket.unshift(first);
        const tunnel = new tls.TLSSocket(socket, { isServer: true, secureContext }) as tls.TLSSocket & { pressAuthority?: string };
        tunnel.pressAuthority = authority;
        tunnel.on('error', () => socket.destroy());
        inner.emit('connection', tunnel);
      };
      if (head.length) return open(head);
      socket.once('data', (first: Buffer) => {
        socket.pause();
        open(first);
      });
    });
    server.on('upgrade', (req: http.IncomingMessage, socket: Socket) => refuse(`UPGRADE ${originOf(req.url)}`, socket));
    const sockets = await listenOnLoopback(server);
    let close = () => undefined as void;
    const closed = new Promise<void>((resolve) => {
      close = () => {
        this.contexts.delete(close);
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      };
    });
    this.contexts.add(close);
    let closing = false;
    return {
      url: urlOf(server),
      closed,
      close: () => {
        if (!closing) close();
        closing = true;
        return closed;
      },
    };
  }

  /** Listens on a free loopback port; resolves to the `--proxy-server` value. */
  async start(): Promise<string> {
    if (this.url) return this.url;
    const server = http.createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => {
      this.refuse(`${req.method} ${originOf(req.url)}`);
      res.writeHead(403, { 'content-length': '0', connection: 'close' }).end();
    });
    server.on('connect', (req: http.IncomingMessage, socket: Socket) => {
      this.refuse(`CONNECT ${req.url ?? ''}`);
      socket.end(FORBIDDEN);
    });
    server.on('upgrade', (req: http.IncomingMessage, socket: Socket) => {
      this.refuse(`UPGRADE ${originOf(req.url)}`);
      socket.end(FORBIDDEN);
    });
    this.sockets = await listenOnLoopback(server);
    this.server = server;
    this.url = urlOf(server);
    return this.url;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.url = null;
    for (const close of [...this.contexts]) close();
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }

  private refuse(target: string): void {
    this.refused++;
    this.recent.push({ target, at: Date.now() });
    if (this.recent.length > RECENT) this.recent.shift();
    this.onRefused(target);
  }
}

/**
 * Listens on a free loopback port; the returned set holds the open connections (closing a listener destroys them:
 * `server.close` alone would wait for the browser's keep-alive sockets).
 */
async function listenOnLoopback(server: http.Server): Promise<Set<Socket>> {
  const sockets = new Set<Socket>();
  server.on('clientError', (_err, socket) => socket.destroy());
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return sockets;
}

function urlOf(server: http.Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function safeOrigin(url: URL): string {
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_REQUEST_BODY) {
        req.destroy();
        reject(new Error('request body too large'));
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** `http://host:port` of an absolute-form request target (what a proxy receives), without path or query. */
function originOf(target: string | undefined): string {
  try {
    return new URL(target ?? '').origin;
  } catch {
    return '(unparsable)';
  }
}
