import { describe, expect, it } from 'vitest';
import { ParseCache } from './parse-cache.js';

describe('ParseCache', () => {
  it('returns what was stored', () => {
    const cache = new ParseCache<number>(2);
    cache.set('a', 1);
    expect(cache.get('a')).toBe(1);
    expect(cache.get('b')).toBeUndefined();
  });

  it('never holds more than two generations', () => {
    const cache = new ParseCache<number>(3);
    for (let i = 0; i < 100; i++) cache.set(`k${i}`, i);
    expect(cache.size).toBeLessThanOrEqual(6);
    expect(cache.get('k99')).toBe(99);
    expect(cache.get('k0')).toBeUndefined();
  });

  it('keeps an entry that is read while newer ones push older ones out', () => {
    const cache = new ParseCache<number>(2);
    cache.set('hot', 0);
    for (let i = 0; i < 20; i++) {
      cache.set(`cold${i}`, i);
      expect(cache.get('hot')).toBe(0);
    }
    expect(cache.get('cold0')).toBeUndefined();
  });
});
