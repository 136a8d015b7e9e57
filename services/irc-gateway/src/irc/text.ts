/**
 * Text between XMPP bodies and IRC lines: IRC lines are at most 512 bytes
 * with CR LF (RFC 2812 §2.3) and cannot hold CR, LF or NUL; XML 1.0 cannot
 * hold most C0 controls, which is where mIRC formatting lives.
 */

/** RFC 2812 §2.3: a message, CR LF included. */
export const IRC_LINE_BYTES = 512;
/**
 * Room kept for the `:nick!user@host ` prefix the server puts in front when it relays
 * the line: nick (up to 30 on common networks), user (10), host (63) and punctuation.
 */
export const PREFIX_ALLOWANCE = 1 + 30 + 1 + 10 + 1 + 63 + 1;

const encoder = new TextEncoder();
export const byteLength = (text: string): number => encoder.encode(text).length;

/**
 * Splits `text` into pieces of at most `maxBytes` UTF-8 bytes without cutting a
 * code point; the pieces joined give `text` back. Prefers to cut before a space
 * in the last quarter of a piece, so words stay whole where they can.
 */
export function splitUtf8(text: string, maxBytes: number): string[] {
  if (maxBytes < 4) throw new RangeError('a piece must hold at least one code point');
  const pieces: string[] = [];
  let start = 0;
  while (start < text.length) {
    let bytes = 0;
    let end = start;
    let lastSpace = -1;
    while (end < text.length) {
      const cp = text.codePointAt(end)!;
      const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      if (bytes + size > maxBytes) break;
      // Cut before a space: servers drop trailing spaces, a leading one after ':' survives.
      if (cp === 0x20 && bytes >= (maxBytes * 3) / 4) lastSpace = end;
      bytes += size;
      end += cp >= 0x10000 ? 2 : 1;
    }
    if (end < text.length && lastSpace > start) end = lastSpace;
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces;
}

// mIRC formatting: bold 02, colour 03 (fg[,bg]), hex colour 04, monospace 11, reverse 16,
// italic 1D, strikethrough 1E, underline 1F, reset 0F.
const FORMATTING =
  // eslint-disable-next-line no-control-regex -- mIRC formatting is made of control characters
  /\x03(\d{1,2}(,\d{1,2})?)?|\x04([0-9a-fA-F]{6}(,[0-9a-fA-F]{6})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]/g;
// The remaining C0 controls XML 1.0 §2.2 forbids (tab, LF and CR are allowed).
// eslint-disable-next-line no-control-regex -- these control characters are what is removed
const XML_FORBIDDEN = /[\x00-\x08\x0b\x0c\x0e-\x1f]/g;

/** IRC text as an XMPP body: formatting codes removed, characters XML cannot carry dropped. */
export function ircToXmpp(text: string): string {
  return text.replace(FORMATTING, '').replace(XML_FORBIDDEN, '');
}

/** The lines of an XMPP body as IRC can carry them: split at CR/LF, NUL dropped, empty lines skipped. */
export function bodyLines(body: string): string[] {
  return body
    .split(/\r\n|\r|\n/)
    .map((line) => line.replace(/\0/g, ''))
    .filter((line) => line.length > 0);
}

export type MessageCommand = 'PRIVMSG' | 'NOTICE';

/**
 * The raw IRC lines (without CR LF) that carry `body` to `target`: one or more
 * per line of the body, each within 512 bytes once the server adds its prefix.
 * `action` wraps each in CTCP ACTION (`/me`).
 */
export function messageLines(
  command: MessageCommand,
  target: string,
  body: string,
  options: { readonly action?: boolean } = {},
): string[] {
  if (/[\0\r\n ]/.test(target) || target === '') throw new RangeError('invalid IRC target');
  const head = `${command} ${target} :`;
  const wrap = options.action === true ? ['\x01ACTION ', '\x01'] : ['', ''];
  const room = IRC_LINE_BYTES - 2 - PREFIX_ALLOWANCE - byteLength(head) - byteLength(wrap[0]! + wrap[1]!);
  const lines: string[] = [];
  for (const line of bodyLines(body)) {
    for (const piece of splitUtf8(line, room)) lines.push(`${head}${wrap[0]}${piece}${wrap[1]}`);
  }
  return lines;
}

/** `/me does something` → the action text, or undefined for an ordinary body (XEP-0245). */
export function meAction(body: string): string | undefined {
  return body.startsWith('/me ') ? body.slice(4) : undefined;
}

/** A trailing parameter with the characters that would end the IRC line removed. */
export function safeTrailing(text: string): string {
  return text.replace(/[\0\r\n]+/g, ' ');
}
