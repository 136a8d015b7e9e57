import { afterEach, describe, expect, it, vi } from 'vitest';
import { ThrottledWriter, TokenBucket } from './token-bucket.js';

describe('token bucket flood control', () => {
  afterEach(() => vi.useRealTimers());

  it('allows a burst, then one token per 1/rate seconds, never more than the burst', () => {
    let now = 0;
    const bucket = new TokenBucket(3, 2, () => now);
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(bucket.waitMs()).toBe(500);
    now = 499;
    expect(bucket.tryTake()).toBe(false);
    now = 500;
    expect(bucket.tryTake()).toBe(true);
    now = 100_000;
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([
      true,
      true,
      true,
      false,
    ]);
  });

  it('writes queued lines in order as tokens come', () => {
    vi.useFakeTimers();
    const bucket = new TokenBucket(2, 1, () => Date.now());
    const written: string[] = [];
    const writer = new ThrottledWriter(bucket, (line) => written.push(line));
    for (const line of ['a', 'b', 'c', 'd']) writer.send(line);
    expect(written).toEqual(['a', 'b']);
    vi.advanceTimersByTime(1000);
    expect(written).toEqual(['a', 'b', 'c']);
    vi.advanceTimersByTime(1000);
    expect(written).toEqual(['a', 'b', 'c', 'd']);
    expect(writer.queued).toBe(0);
  });

  it('drops lines beyond its queue limit instead of growing without bound', () => {
    vi.useFakeTimers();
    const written: string[] = [];
    const writer = new ThrottledWriter(new TokenBucket(1, 1, () => Date.now()), (l) => written.push(l), 2);
    expect([writer.send('1'), writer.send('2'), writer.send('3'), writer.send('4')]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    writer.clear();
    vi.advanceTimersByTime(5000);
    expect(written).toEqual(['1']);
  });
});
