import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, type Envelope } from './envelope.js';
import { RecentEncodings, rememberEncodings } from './recent-encodings.js';

const envelope: Envelope = {
  v: 1,
  id: 'e-1',
  kind: 'message',
  edgeId: 'edge-1',
  sessionId: 's-1',
  from: 'juliet@example.com/balcony',
  to: 'romeo@example.net',
  type: 'chat',
  stanzaId: 'm1',
  xml: "<message type='chat'><body>Wherefore art thou?</body></message>",
  ts: 1,
};

describe('RecentEncodings', () => {
  beforeEach(() => rememberEncodings(true));
  afterEach(() => rememberEncodings(false));

  it('hands back a value once for the very text it was remembered under, and forgets past its limit', () => {
    const recent = new RecentEncodings<number>(2);
    recent.remember('a', 1);
    expect(recent.take('a')).toBe(1);
    expect(recent.take('a')).toBeUndefined();
    recent.remember('b', 2);
    recent.remember('c', 3);
    recent.remember('d', 4);
    expect(recent.take('b')).toBeUndefined();
    expect(recent.take('d')).toBe(4);
  });

  it('lets an envelope encoded in this process be decoded without parsing, and still parses and checks any other text', () => {
    const text = encodeEnvelope(envelope);
    expect(decodeEnvelope(text)).toBe(envelope);
    // Taken once: the same text again (or a copy read from Redis) is parsed and validated.
    const parsed = decodeEnvelope(text);
    expect(parsed).not.toBe(envelope);
    expect(parsed).toEqual(envelope);
    expect(() => decodeEnvelope(text.replace('"v":1', '"v":2'))).toThrow(/unsupported envelope version/);
  });

  it('remembers nothing unless turned on (a process on Redis would only hold its strings)', () => {
    rememberEncodings(false);
    const text = encodeEnvelope(envelope);
    const parsed = decodeEnvelope(text);
    expect(parsed).not.toBe(envelope);
    expect(parsed).toEqual(envelope);
  });
});
