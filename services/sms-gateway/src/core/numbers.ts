/**
 * Phone numbers as the gateway accepts them. E.164 (ITU-T E.164 §6): a
 * country code and national number, at most 15 digits, never starting with 0;
 * written with a leading '+'.
 *
 * Input rules, kept simple on purpose (no per-country numbering plans):
 * spaces, dots, dashes, slashes and parentheses are ignored; a leading '+'
 * or '00' marks an international number; anything else is national and gets
 * `defaultCountryCode` prepended after dropping one trunk '0'. So with
 * country code 1, `(555) 123-4567` is `+15551234567`; with 44, `020 7946 0018`
 * is `+442079460018`. Without a default country code only international input is accepted.
 */
const E164 = /^\+[1-9]\d{6,14}$/;
const SEPARATORS = /[\s.\-/()]/g;

export function isE164(value: string): boolean {
  return E164.test(value);
}

/** The E.164 form of `input`, or null when it is not a phone number. */
export function normalizeNumber(input: string, defaultCountryCode?: string): string | null {
  const compact = input.trim().replace(SEPARATORS, '');
  let candidate: string;
  if (compact.startsWith('+')) candidate = compact;
  else if (compact.startsWith('00')) candidate = `+${compact.slice(2)}`;
  else if (defaultCountryCode !== undefined && /^\d+$/.test(compact)) {
    candidate = `+${defaultCountryCode}${compact.startsWith('0') ? compact.slice(1) : compact}`;
  } else return null;
  return isE164(candidate) ? candidate : null;
}
