import { describe, expect, it } from 'vitest';
import { ConnectionCounter, SlidingWindowLimit, TokenBucket } from './limits.js';

describe('TokenBucket', () => {
  it('allows a burst, refuses beyond it, and refills at the rate', () => {
    let now = 0;
    const bucket = new TokenBucket(10, 5, () => now);
    for (let i = 0; i < 5; i++) expect(bucket.take(1)).toBe(true);
    expect(bucket.take(1)).toBe(false);
    now += 1000; // 10 tokens back, capped at the burst of 5
    for (let i = 0; i < 5; i++) expect(bucket.take(1)).toBe(true);
    expect(bucket.take(1)).toBe(false);
  });

  it('charges amounts larger than one (bytes)', () => {
    let now = 0;
    const bucket = new TokenBucket(100, 100, () => now);
    expect(bucket.take(60)).toBe(true);
    expect(bucket.take(60)).toBe(false);
    now += 1000;
    expect(bucket.take(60)).toBe(true);
  });
});

describe('ConnectionCounter', () => {
  it('caps connections per address and frees a slot on release', () => {
    const counter = new ConnectionCounter(2);
    expect(counter.acquire('192.0.2.1')).toBe(true);
    expect(counter.acquire('192.0.2.1')).toBe(true);
    expect(counter.acquire('192.0.2.1')).toBe(false);
    expect(counter.acquire('192.0.2.2')).toBe(true);
    counter.release('192.0.2.1');
    expect(counter.acquire('192.0.2.1')).toBe(true);
  });
});

describe('SlidingWindowLimit', () => {
  it('allows max events per window per key and forgets them once the window passes', () => {
    let now = 0;
    const limit = new SlidingWindowLimit(2, 1000, () => now);
    expect(limit.tryRecord('a')).toBe(true);
    expect(limit.tryRecord('a')).toBe(true);
    expect(limit.tryRecord('a')).toBe(false);
    expect(limit.tryRecord('b')).toBe(true);
    now += 1001;
    expect(limit.tryRecord('a')).toBe(true);
  });
});
