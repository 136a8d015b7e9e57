import { describe, expect, it } from 'vitest';
import { isE164, normalizeNumber } from './numbers.js';

describe('phone numbers', () => {
  it('accepts international input with separators', () => {
    expect(normalizeNumber('+1 555 123 4567')).toBe('+15551234567');
    expect(normalizeNumber('+44 (0)20'.replace('(0)', '') + ' 7946 0018')).toBe('+442079460018');
    expect(normalizeNumber('0049 30 123456')).toBe('+4930123456');
  });

  it('prefixes national input with the default country code, dropping one trunk zero', () => {
    expect(normalizeNumber('(555) 123-4567', '1')).toBe('+15551234567');
    expect(normalizeNumber('020 7946 0018', '44')).toBe('+442079460018');
  });

  it('refuses national input without a default country code, letters, and impossible lengths', () => {
    expect(normalizeNumber('(555) 123-4567')).toBeNull();
    expect(normalizeNumber('+1 555 CALL NOW')).toBeNull();
    expect(normalizeNumber('+12')).toBeNull();
    expect(normalizeNumber('+1234567890123456')).toBeNull();
    expect(normalizeNumber('+0123456789')).toBeNull();
    expect(normalizeNumber('')).toBeNull();
  });

  it('knows E.164', () => {
    expect(isE164('+15551234567')).toBe(true);
    expect(isE164('15551234567')).toBe(false);
    expect(isE164('+1555123456789012')).toBe(false);
  });
});
