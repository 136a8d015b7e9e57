/**
 * PRECIS string classes (RFC 8264 §4, derived property algorithm §8–9) and
 * the IDNA2008 code point rules (RFC 5892) they were built from, computed from
 * the Unicode data the JavaScript engine carries (General_Category, binary
 * properties, Script, normalization). See README.md for what is approximated.
 */

/** Which repertoire a string is checked against. */
export type StringClass = 'identifier' | 'freeform' | 'idna';

const PVALID = 1;
/** ID_DISALLOWED in IdentifierClass, FREE_PVAL in FreeformClass, DISALLOWED in IDNA2008. */
const FREE_PVAL = 2;
const CONTEXTJ = 3;
const CONTEXTO = 4;
const DISALLOWED = 5;
/** The IDNA2008 IgnorableBlocks (RFC 5892 §2.4), which PRECIS dropped. */
const IDNA_IGNORABLE_BLOCK = 6;

const UNASSIGNED = /^\p{Cn}$/u;
const IGNORABLE = /^[\p{Default_Ignorable_Code_Point}\p{Noncharacter_Code_Point}]$/u;
const CONTROL = /^\p{Cc}$/u;
// RFC 8264 §9.1 LetterDigits.
const LETTER_DIGIT = /^[\p{Ll}\p{Lu}\p{Lo}\p{Nd}\p{Lm}\p{Mn}\p{Mc}]$/u;
// RFC 8264 §9.12–9.16: OtherLetterDigits, Spaces, Symbols, Punctuation.
const OTHER_FREE = /^[\p{Lt}\p{Nl}\p{No}\p{Me}\p{Zs}\p{Sm}\p{Sc}\p{Sk}\p{So}\p{P}]$/u;

const GREEK = /^\p{Script=Greek}$/u;
const HEBREW = /^\p{Script=Hebrew}$/u;
const KANA_HAN = /[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}]/u;
// Stand-in for Joining_Type ∈ {L, D, R}, which RegExp cannot query: letters of the joining scripts.
const JOINING_SCRIPT =
  /^[\p{Script=Arabic}\p{Script=Syriac}\p{Script=Nko}\p{Script=Mongolian}\p{Script=Mandaic}\p{Script=Manichaean}\p{Script=Psalter_Pahlavi}\p{Script=Adlam}\p{Script=Hanifi_Rohingya}\p{Script=Sogdian}\p{Script=Old_Uyghur}\p{Script=Phags_Pa}\p{Script=Chorasmian}]$/u;
const LETTER = /^\p{L}$/u;
// Stand-in for Joining_Type T (transparent): non-spacing and enclosing marks, format characters.
const TRANSPARENT = /^[\p{Mn}\p{Me}\p{Cf}]$/u;

/** Memo of the derived property per code point: 0 = not computed yet. Bounded (1.1 MB) whatever the input. */
let memo: Uint8Array | undefined;

function derivedProperty(cp: number): number {
  memo ??= new Uint8Array(0x110000);
  let value = memo[cp] ?? 0;
  if (value === 0) {
    value = computeDerivedProperty(cp);
    memo[cp] = value;
  }
  return value;
}

// RFC 8264 §8, in the order the algorithm gives.
function computeDerivedProperty(cp: number): number {
  const exception = exceptionValue(cp);
  if (exception !== 0) return exception;
  const ch = String.fromCodePoint(cp);
  if (UNASSIGNED.test(ch)) return DISALLOWED;
  if (cp >= 0x21 && cp <= 0x7e) return PVALID;
  if (cp === 0x200c || cp === 0x200d) return CONTEXTJ;
  if (isOldHangulJamo(cp)) return DISALLOWED;
  if (IGNORABLE.test(ch)) return DISALLOWED;
  if (CONTROL.test(ch)) return DISALLOWED;
  if (ch.normalize('NFKC') !== ch) return FREE_PVAL;
  if (LETTER_DIGIT.test(ch)) return isIdnaIgnorableBlock(cp) ? IDNA_IGNORABLE_BLOCK : PVALID;
  if (OTHER_FREE.test(ch)) return FREE_PVAL;
  return DISALLOWED;
}

// RFC 5892 §2.6, which RFC 8264 §9.6 adopts.
function exceptionValue(cp: number): number {
  switch (cp) {
    case 0x00df:
    case 0x03c2:
    case 0x06fd:
    case 0x06fe:
    case 0x0f0b:
    case 0x3007:
      return PVALID;
    case 0x00b7:
    case 0x0375:
    case 0x05f3:
    case 0x05f4:
    case 0x30fb:
      return CONTEXTO;
    case 0x0640:
    case 0x07fa:
    case 0x302e:
    case 0x302f:
    case 0x3031:
    case 0x3032:
    case 0x3033:
    case 0x3034:
    case 0x3035:
    case 0x303b:
      return DISALLOWED;
  }
  if ((cp >= 0x0660 && cp <= 0x0669) || (cp >= 0x06f0 && cp <= 0x06f9)) return CONTEXTO;
  return 0;
}

// Hangul_Syllable_Type L, V or T (RFC 5892 §2.9); RegExp has no such property, so the ranges from Unicode's data.
function isOldHangulJamo(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x11ff) ||
    (cp >= 0xa960 && cp <= 0xa97c) ||
    (cp >= 0xd7b0 && cp <= 0xd7c6) ||
    (cp >= 0xd7cb && cp <= 0xd7fb)
  );
}

// RFC 5892 §2.4: Combining Diacritical Marks for Symbols, Musical Symbols, Ancient Greek Musical Notation.
function isIdnaIgnorableBlock(cp: number): boolean {
  return (cp >= 0x20d0 && cp <= 0x20ff) || (cp >= 0x1d100 && cp <= 0x1d24f);
}

/**
 * Canonical_Combining_Class = Virama (9), which RegExp cannot query. Canonical
 * ordering (UAX #15) sorts marks by class, so a mark sorts after one of class 8
 * and before one of class 10 exactly when its own class is 9.
 */
function isVirama(cp: number | undefined): boolean {
  if (cp === undefined) return false;
  const ch = String.fromCodePoint(cp);
  if (ch.normalize('NFD') !== ch) return false;
  return (
    (ch + '\u3099').normalize('NFD') === '\u3099' + ch && ('\u05b0' + ch).normalize('NFD') === ch + '\u05b0'
  );
}

function hasProperty(pattern: RegExp, cp: number | undefined): boolean {
  return cp !== undefined && pattern.test(String.fromCodePoint(cp));
}

// RFC 5892 Appendix A.1 and A.2.
function contextJAllows(cps: readonly number[], i: number): boolean {
  if (isVirama(cps[i - 1])) return true;
  if (cps[i] === 0x200d) return false;
  let before = i - 1;
  while (before >= 0 && hasProperty(TRANSPARENT, cps[before])) before--;
  let after = i + 1;
  while (after < cps.length && hasProperty(TRANSPARENT, cps[after])) after++;
  return isJoiningLetter(cps[before]) && isJoiningLetter(cps[after]);
}

function isJoiningLetter(cp: number | undefined): boolean {
  return hasProperty(JOINING_SCRIPT, cp) && hasProperty(LETTER, cp);
}

// RFC 5892 Appendix A.3–A.9.
function contextOAllows(cps: readonly number[], i: number): boolean {
  const cp = cps[i] ?? 0;
  switch (cp) {
    case 0x00b7:
      return cps[i - 1] === 0x6c && cps[i + 1] === 0x6c;
    case 0x0375:
      return hasProperty(GREEK, cps[i + 1]);
    case 0x05f3:
    case 0x05f4:
      return hasProperty(HEBREW, cps[i - 1]);
    case 0x30fb:
      return cps.some((other) => other !== 0x30fb && hasProperty(KANA_HAN, other));
  }
  if (cp >= 0x0660 && cp <= 0x0669) return !cps.some((other) => other >= 0x06f0 && other <= 0x06f9);
  if (cp >= 0x06f0 && cp <= 0x06f9) return !cps.some((other) => other >= 0x0660 && other <= 0x0669);
  return false;
}

/**
 * Checks every code point of `s` against the class and its context rules.
 * Returns a description of the first offending code point, or undefined when
 * the string belongs to the class.
 */
export function findDisallowed(s: string, stringClass: StringClass): string | undefined {
  const cps = Array.from(s, (ch) => ch.codePointAt(0) ?? 0);
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i] ?? 0;
    let allowed: boolean;
    switch (derivedProperty(cp)) {
      case PVALID:
        allowed = stringClass !== 'idna' || isIdnaStable(cp);
        break;
      case FREE_PVAL:
        allowed = stringClass === 'freeform';
        break;
      case IDNA_IGNORABLE_BLOCK:
        allowed = stringClass !== 'idna';
        break;
      case CONTEXTJ:
        allowed = contextJAllows(cps, i);
        break;
      case CONTEXTO:
        allowed = contextOAllows(cps, i);
        break;
      default:
        allowed = false;
    }
    if (!allowed) return `U+${cp.toString(16).toUpperCase().padStart(4, '0')} at code point ${i}`;
  }
  return undefined;
}

// RFC 5892 §2.2 LDH and §2.3 Unstable, the IDNA2008 rules PRECIS does not have; case folding approximated by lowercasing.
function isIdnaStable(cp: number): boolean {
  if (cp < 0x80) return (cp >= 0x61 && cp <= 0x7a) || (cp >= 0x30 && cp <= 0x39) || cp === 0x2d;
  if (cp === 0x00df || cp === 0x03c2) return true;
  const ch = String.fromCodePoint(cp);
  return ch.toLowerCase() === ch;
}
