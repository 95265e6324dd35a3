const MAX_LOGGED_TEXT = 500;

/**
 * Prepares page-produced text (console messages, page errors) for the log: every secret value the job carries
 * is masked — a page printing its own config must not put secrets in our logs — and the text is truncated.
 * Secrets shorter than 4 characters aren't masked (they'd mangle ordinary words and reveal little).
 */
export function redactPageText(text: string, secrets: Record<string, string>, max = MAX_LOGGED_TEXT): string {
  // Mask before truncating, so a cut can't leave part of a secret behind.
  let out = text;
  const values = Object.values(secrets)
    .filter((v) => v.length >= 4)
    .sort((a, b) => b.length - a.length);
  for (const v of values) out = out.split(v).join('[redacted]');
  return out.length > max ? `${out.slice(0, max)}…` : out;
}
