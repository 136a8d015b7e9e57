/**
 * SMS text encodings and segmentation (3GPP TS 23.038 alphabets, TS 23.040
 * concatenation). Shared by the providers and the gateway core, which may plan
 * segments itself to refuse an over-long message before it is queued.
 */

/** GSM 03.38 / TS 23.038 §6.2.1 default alphabet, indexed by septet value. 0x1B is the escape to the extension table. */
export const GSM7_BASIC_TABLE =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';

/** TS 23.038 §6.2.1.1 default extension table: each character is sent as 0x1B followed by this septet. */
export const GSM7_EXTENSION_TABLE: ReadonlyMap<string, number> = new Map([
  ['\f', 0x0a],
  ['^', 0x14],
  ['{', 0x28],
  ['}', 0x29],
  ['\\', 0x2f],
  ['[', 0x3c],
  ['~', 0x3d],
  [']', 0x3e],
  ['|', 0x40],
  ['€', 0x65],
]);

const GSM7_ESCAPE = 0x1b;

const basicSeptets = new Map<string, number>();
for (let i = 0; i < GSM7_BASIC_TABLE.length; i++) {
  const ch = GSM7_BASIC_TABLE[i]!;
  // A literal ESC in user text is not a character we can send: it would swallow the next septet.
  if (i !== GSM7_ESCAPE) basicSeptets.set(ch, i);
}
const extensionChars = new Map<number, string>();
for (const [ch, septet] of GSM7_EXTENSION_TABLE) extensionChars.set(septet, ch);

export type SmsEncoding = 'gsm7' | 'ucs2';

/** Septets one character costs in GSM-7 (2 for extension characters), or undefined when it has no GSM-7 form. */
export function gsm7Cost(ch: string): 1 | 2 | undefined {
  if (basicSeptets.has(ch)) return 1;
  if (GSM7_EXTENSION_TABLE.has(ch)) return 2;
  return undefined;
}

export function isGsm7(text: string): boolean {
  for (const ch of text) if (gsm7Cost(ch) === undefined) return false;
  return true;
}

/** Thrown by encodeGsm7 for a character outside the default alphabet and its extension table. */
export class Gsm7EncodingError extends Error {
  override readonly name = 'Gsm7EncodingError';
  constructor(readonly character: string) {
    super(
      `character U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} has no GSM-7 form`,
    );
  }
}

/**
 * GSM-7 as unpacked septets, one per octet: what SMPP 3.4 data_coding 0 means
 * for short_message at most SMSCs (they pack the septets for the air
 * interface themselves); packed septets are only for the air interface and
 * a few SMSCs configured for them.
 */
export function encodeGsm7(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    const basic = basicSeptets.get(ch);
    if (basic !== undefined) {
      out.push(basic);
      continue;
    }
    const ext = GSM7_EXTENSION_TABLE.get(ch);
    if (ext === undefined) throw new Gsm7EncodingError(ch);
    out.push(GSM7_ESCAPE, ext);
  }
  return Uint8Array.from(out);
}

/** Unpacked septets back to text; an unknown extension septet decodes as its basic character (TS 23.038 §6.2.1.1 note). */
export function decodeGsm7(septets: Uint8Array): string {
  let text = '';
  for (let i = 0; i < septets.length; i++) {
    const septet = septets[i]! & 0x7f;
    if (septet === GSM7_ESCAPE && i + 1 < septets.length) {
      const next = septets[++i]! & 0x7f;
      text += extensionChars.get(next) ?? GSM7_BASIC_TABLE[next]!;
    } else if (septet === GSM7_ESCAPE) {
      text += ' ';
    } else {
      text += GSM7_BASIC_TABLE[septet]!;
    }
  }
  return text;
}

/** UCS-2 as SMSCs take it: UTF-16BE code units (astral characters as surrogate pairs, which every handset reassembles). */
export function encodeUcs2(text: string): Uint8Array {
  const out = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    out[2 * i] = unit >> 8;
    out[2 * i + 1] = unit & 0xff;
  }
  return out;
}

export function decodeUcs2(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i + 1 < bytes.length; i += 2) text += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
  return text;
}

/** TS 23.040 §9.2.3.24.1: one 6-octet concatenation UDH leaves 153 septets (GSM-7) or 67 UCS-2 characters. */
export const SEGMENT_LIMITS = {
  gsm7: { single: 160, multi: 153 },
  ucs2: { single: 70, multi: 67 },
} as const;

export interface SegmentPlan {
  readonly encoding: SmsEncoding;
  /** The text of each segment, in order; an extension character or a surrogate pair is never split. */
  readonly segments: readonly string[];
  readonly count: number;
}

/** A message needs more segments than the configured per-message cap. */
export class SegmentCapError extends Error {
  override readonly name = 'SegmentCapError';
  constructor(
    readonly count: number,
    readonly cap: number,
    readonly encoding: SmsEncoding,
  ) {
    super(
      `message needs ${count} ${encoding === 'gsm7' ? 'GSM-7' : 'UCS-2'} segments, more than the cap of ${cap}`,
    );
  }
}

/**
 * Chooses GSM-7 when every character has a GSM-7 form, else UCS-2, and splits
 * the text into segments. Throws SegmentCapError when `maxSegments` is given
 * and exceeded.
 */
export function planSegments(text: string, maxSegments?: number): SegmentPlan {
  const encoding: SmsEncoding = isGsm7(text) ? 'gsm7' : 'ucs2';
  const units = [...text]; // code points: a surrogate pair stays together
  const cost = (ch: string): number => (encoding === 'gsm7' ? gsm7Cost(ch)! : ch.length);
  const limits = SEGMENT_LIMITS[encoding];
  let total = 0;
  for (const ch of units) total += cost(ch);

  let segments: string[];
  if (total <= limits.single) {
    segments = [text];
  } else {
    segments = [];
    let current = '';
    let used = 0;
    for (const ch of units) {
      const c = cost(ch);
      if (used + c > limits.multi) {
        segments.push(current);
        current = '';
        used = 0;
      }
      current += ch;
      used += c;
    }
    segments.push(current);
  }
  if (maxSegments !== undefined && segments.length > maxSegments) {
    throw new SegmentCapError(segments.length, maxSegments, encoding);
  }
  return { encoding, segments, count: segments.length };
}
