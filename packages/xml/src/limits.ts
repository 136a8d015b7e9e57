/**
 * Caps that keep one peer from making the parser use unbounded memory or
 * time. Exceeding any of them is a `policy-violation` stream error
 * (RFC 6120 §4.9.3.18).
 */
export interface XmlLimits {
  /**
   * UTF-8 bytes of one stanza, from its `<` to its final `>`. The same cap
   * bounds every other stretch of input between two stanza boundaries: the
   * stream header and non-whitespace bytes between stanzas.
   */
  readonly maxStanzaBytes: number;
  /** Nesting depth counted from the stanza (or parsed element) itself, which is depth 1. */
  readonly maxDepth: number;
  /** Attributes on one element, namespace declarations included. */
  readonly maxAttributes: number;
  /** Length of an element or attribute name, in UTF-16 code units. */
  readonly maxNameLength: number;
  /** Length of one attribute value after entity expansion, in UTF-16 code units. */
  readonly maxAttributeValueLength: number;
}

export const DEFAULT_LIMITS: XmlLimits = Object.freeze({
  // Prosody's and ejabberd's defaults for c2s are in the same range (256 KiB / 64 KiB).
  maxStanzaBytes: 256 * 1024,
  // Real stanzas nest 6–8 deep (message → event → items → item → entry → …).
  maxDepth: 32,
  maxAttributes: 64,
  maxNameLength: 1024,
  maxAttributeValueLength: 64 * 1024,
});

/** Fills in defaults; returns DEFAULT_LIMITS itself when nothing is overridden. */
export function resolveLimits(limits: Partial<XmlLimits> | undefined): XmlLimits {
  if (limits === undefined) return DEFAULT_LIMITS;
  const merged: XmlLimits = {
    maxStanzaBytes: limits.maxStanzaBytes ?? DEFAULT_LIMITS.maxStanzaBytes,
    maxDepth: limits.maxDepth ?? DEFAULT_LIMITS.maxDepth,
    maxAttributes: limits.maxAttributes ?? DEFAULT_LIMITS.maxAttributes,
    maxNameLength: limits.maxNameLength ?? DEFAULT_LIMITS.maxNameLength,
    maxAttributeValueLength: limits.maxAttributeValueLength ?? DEFAULT_LIMITS.maxAttributeValueLength,
  };
  const same = (Object.keys(merged) as (keyof XmlLimits)[]).every((k) => merged[k] === DEFAULT_LIMITS[k]);
  return same ? DEFAULT_LIMITS : merged;
}

/**
 * Which tokenizer reads the XML. `native` is the hand-written one; `saxes`
 * drives the saxes library and is kept as the reference the native one is
 * tested against (same tests, differential fuzzing). Both enforce the same
 * rules and limits.
 */
export type XmlEngine = 'native' | 'saxes';

export const DEFAULT_ENGINE: XmlEngine = 'native';

/** Limits plus the choice of engine, for StreamParser and parseElement. */
export interface XmlParserOptions extends Partial<XmlLimits> {
  engine?: XmlEngine;
}
