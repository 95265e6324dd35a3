/**
 * A media type as HTTP sends it (RFC 6838 names, RFC 9110 parameters): `type/subtype` and optional
 * `; name=value` parameters. Mimes are sent as Content-Type headers when rendering, so nothing else
 * (CR/LF, control characters) may get in.
 */
const NAME = "[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}";
const TOKEN = "[A-Za-z0-9!#$%&'*+.^_`|~-]+";
const QUOTED = '"[^"\\\\\\x00-\\x1f\\x7f]*"';
export const MEDIA_TYPE_PATTERN = `^${NAME}/${NAME}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|${QUOTED}))*$`;

const MEDIA_TYPE = new RegExp(MEDIA_TYPE_PATTERN);
export const isMediaType = (s: string) => MEDIA_TYPE.test(s);
