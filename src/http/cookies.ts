import type { FastifyReply, FastifyRequest } from 'fastify';

/** The session cookie: HttpOnly (no script reads it), SameSite=Lax (not sent on cross-site writes), Secure on https. */
export const SESSION_COOKIE = 'press_session';

export function readCookie(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

export function setSessionCookie(req: FastifyRequest, reply: FastifyReply, token: string, expiresAt: number, now: number, secure: boolean) {
  const maxAge = Math.max(0, Math.floor((expiresAt - now) / 1000));
  reply.header('set-cookie', cookie(token, maxAge, secure || req.protocol === 'https'));
}

export function clearSessionCookie(req: FastifyRequest, reply: FastifyReply, secure: boolean) {
  reply.header('set-cookie', cookie('', 0, secure || req.protocol === 'https'));
}

function cookie(value: string, maxAge: number, secure: boolean) {
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}
