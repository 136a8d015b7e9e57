import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LineBatcher, type BatchTarget } from './batcher.js';

const PHONE: BatchTarget = { phone: '+15551234567', via: '+15550009999' };
const OTHER: BatchTarget = { phone: '+15557654321', via: '+15550009999' };

function batcher(maxChars = 40, delayMs = 1000): { batcher: LineBatcher; sent: [string, string][] } {
  const sent: [string, string][] = [];
  return {
    sent,
    batcher: new LineBatcher({
      delayMs,
      fits: (text) => text.length <= maxChars,
      send: (target, text) => {
        sent.push([target.phone, text]);
        return Promise.resolve();
      },
      onError: (error) => {
        throw error;
      },
    }),
  };
}

describe('LineBatcher', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends the lines of one phone as one SMS after the delay', async () => {
    const { batcher: b, sent } = batcher();
    b.push(PHONE, '(alice) hi');
    b.push(PHONE, '(bob) hello');
    await vi.advanceTimersByTimeAsync(999);
    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toEqual([[PHONE.phone, '(alice) hi\n(bob) hello']]);
    expect(b.pendingLines).toBe(0);
  });

  it('sends a full batch at once and keeps the line that did not fit for the next', async () => {
    const { batcher: b, sent } = batcher(25);
    b.push(PHONE, '(alice) one two three');
    b.push(PHONE, '(bob) four five');
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([[PHONE.phone, '(alice) one two three']]);
    expect(b.pendingLines).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(sent.map(([, text]) => text)).toEqual(['(alice) one two three', '(bob) four five']);
  });

  it('splits a line longer than a batch at spaces and loses no character', async () => {
    const { batcher: b, sent } = batcher(20);
    const line = '(alice) the quick brown fox jumps over the lazy dog';
    b.push(PHONE, line);
    await vi.advanceTimersByTimeAsync(1000);
    expect(sent.length).toBeGreaterThan(1);
    for (const [, text] of sent) expect(text.length).toBeLessThanOrEqual(20);
    expect(sent.map(([, text]) => text).join(' ')).toBe(line);
  });

  it('sends an urgent line at once, after the lines already waiting, in the same SMS', async () => {
    const { batcher: b, sent } = batcher();
    b.push(PHONE, '(alice) hi');
    b.push(PHONE, 'You left coven.', true);
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toEqual([[PHONE.phone, '(alice) hi\nYou left coven.']]);
  });

  it('keeps phones apart, drops an opted-out phone, and flushes everything on demand', async () => {
    const { batcher: b, sent } = batcher();
    b.push(PHONE, '(alice) for phone');
    b.push(OTHER, '(alice) for other');
    b.drop(OTHER.phone);
    await b.flushAll();
    expect(sent).toEqual([[PHONE.phone, '(alice) for phone']]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(sent).toHaveLength(1);
  });

  it('sends batches to one phone one at a time, in order', async () => {
    const order: string[] = [];
    let release: () => void = () => undefined;
    const b = new LineBatcher({
      delayMs: 1000,
      fits: (text) => text.length <= 10,
      send: async (_target, text) => {
        order.push(`start ${text}`);
        if (text === 'first') await new Promise<void>((resolve) => (release = resolve));
        order.push(`end ${text}`);
      },
      onError: () => undefined,
    });
    b.push(PHONE, 'first', true);
    b.push(PHONE, 'second', true);
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['start first']);
    release();
    await b.flushAll();
    expect(order).toEqual(['start first', 'end first', 'start second', 'end second']);
  });
});
