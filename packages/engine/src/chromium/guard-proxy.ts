import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A request the guard refused: `CONNECT host:port` (TLS, WebSockets, TURN over TCP) or `METHOD url` (plain HTTP). */
export interface RefusedRequest {
  target: string;
  at: number;
}

const RECENT = 64;
const FORBIDDEN = 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';

/**
 * The browser's only way onto the network. Chromium is launched with `--proxy-server` pointing here (loopback
 * included, `<-loopback>`), so every request its network stack makes — from pages, iframes, dedicated and shared
 * workers, worklets, service workers, EventSource, WebSockets, WebRTC TURN over TCP (non-proxied UDP is disabled),
 * preconnects, beacons, prefetches — arrives at this proxy, which refuses it. What a page may load reaches it
 * through request interception instead (RenderSession: the deploy's files, the payload and environment, and — on
 * plans with external network — public addresses through the Outbound module, DNS pinned); interception answers
 * every request it sees and never lets one continue to the network. So a request that interception doesn't see
 * can't go anywhere, and the guard doesn't depend on a port being unused: it is a socket we hold.
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

  constructor(private readonly onRefused: (target: string) => void = () => undefined) {}

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
    server.on('clientError', (_err, socket) => socket.destroy());
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.url = null;
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

/** `http://host:port` of an absolute-form request target (what a proxy receives), without path or query. */
function originOf(target: string | undefined): string {
  try {
    return new URL(target ?? '').origin;
  } catch {
    return '(unparsable)';
  }
}
