import type { SaslFailure } from './types.js';

// RFC 4648 §4 alphabet with canonical padding and no whitespace, as RFC 6120 §6.4.2 requires.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes strict base64; null when the text is not exactly that. */
export function decodeBase64(text: string): Buffer | null {
  if (!BASE64.test(text)) return null;
  const data = Buffer.from(text, 'base64');
  // Non-zero pad bits would decode anyway; re-encoding catches them so one payload has one spelling.
  return data.toString('base64') === text ? data : null;
}

/**
 * The character data of `<auth/>` or `<response/>` (RFC 6120 §6.4.2): absent means no initial
 * response (null), a single "=" means an empty one, anything else must be strict base64.
 */
export function decodePayload(
  text: string | null | undefined,
): { ok: true; data: Buffer | null } | SaslFailure {
  if (text === null || text === undefined || text === '') return { ok: true, data: null };
  if (text === '=') return { ok: true, data: Buffer.alloc(0) };
  const data = decodeBase64(text);
  if (data === null) return { kind: 'failure', condition: 'incorrect-encoding', text: 'invalid base64' };
  return { ok: true, data };
}

/**
 * Character data for `<challenge/>` or `<success/>`. Our mechanisms never send zero-length
 * success data (RFC 6120 §6.3.10 would want "="), and an empty challenge is an empty element.
 */
export function encodePayload(data: Buffer | undefined): string {
  return data === undefined ? '' : data.toString('base64');
}
