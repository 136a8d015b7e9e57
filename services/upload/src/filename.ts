/** Longest file name kept, in UTF-8 bytes (most file systems allow 255; room for the storage's own suffixes). */
export const MAX_FILENAME_BYTES = 200;

// C0/C1 controls, DEL, and bidirectional overrides/isolates that can disguise an extension ("gpj.exe").
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// Reserved on Windows and meaningful in URLs or shells; replaced rather than dropped to keep words apart.
const RESERVED = /[<>:"|?*%#;\\]/g;

/**
 * The name a file is stored and served under: the last path segment of what
 * the client sent (XEP-0363 §4 leaves sanitising to the service), without
 * control or bidi characters, reserved characters replaced, no leading dots,
 * at most {@link MAX_FILENAME_BYTES} bytes with the extension kept. Null when nothing usable is left.
 */
export function sanitizeFilename(raw: string): string | null {
  const lastSegment = raw.normalize('NFC').split(/[/\\]/).pop() ?? '';
  let name = lastSegment
    .replace(INVISIBLE, '')
    .replace(RESERVED, '_')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\.+/, '')
    .replace(/[. ]+$/, '');
  if (name === '') return null;
  if (Buffer.byteLength(name, 'utf8') > MAX_FILENAME_BYTES) name = truncateKeepingExtension(name);
  return name;
}

function truncateKeepingExtension(name: string): string {
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  const budget = MAX_FILENAME_BYTES - Buffer.byteLength(extension, 'utf8');
  let stem = '';
  // Whole code points only, so a multi-byte character is never cut in half.
  for (const char of name.slice(0, name.length - extension.length)) {
    if (Buffer.byteLength(stem + char, 'utf8') > budget) break;
    stem += char;
  }
  return stem + extension;
}

// RFC 9110 §8.3.1: type "/" subtype *( OWS ";" OWS parameter ), tokens per §5.6.2.
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(\\s*;\\s*${TOKEN}=(${TOKEN}|"[^"\\\\\\r\\n]*"))*$`);

/** A media type as stored and compared: trimmed, type/subtype lower-cased; null when it is not one. */
export function normalizeContentType(raw: string): string | null {
  const value = raw.trim();
  if (value.length > 255 || !MEDIA_TYPE.test(value)) return null;
  const semicolon = value.indexOf(';');
  if (semicolon < 0) return value.toLowerCase();
  return value.slice(0, semicolon).trim().toLowerCase() + value.slice(semicolon).replace(/\s*;\s*/g, '; ');
}

/**
 * Content-Disposition for a served file: media a browser shows passively
 * inline, everything else (HTML, SVG, PDF, archives) as a download.
 * RFC 6266 with an RFC 8187 `filename*` for non-ASCII names.
 */
export function contentDisposition(contentType: string, filename: string): string {
  const essence = contentType.split(';')[0]!.trim();
  const inline =
    (essence.startsWith('image/') && essence !== 'image/svg+xml') ||
    essence.startsWith('audio/') ||
    essence.startsWith('video/');
  const ascii = filename.replace(/[^\u0020-\u007e]|["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${inline ? 'inline' : 'attachment'}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
