import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeEnvelope, encodeEnvelope, EnvelopeError, type Envelope } from './envelope.js';
import { partitionOf } from './partition.js';
import { Keys, Streams } from './keys.js';
import { decodeDelivery, encodeDelivery } from './delivery.js';

const sample: Envelope = {
  v: 1,
  id: '01J0000000000000000000000',
  kind: 'message',
  edgeId: 'edge-1',
  sessionId: 's1',
  from: 'juliet@example.com/balcony',
  to: 'romeo@example.net',
  type: 'chat',
  stanzaId: 'ktx72v49',
  xml: "<message from='juliet@example.com/balcony' to='romeo@example.net' type='chat' id='ktx72v49'><body>Art thou not Romeo, and a Montague?</body></message>",
  ts: 1_700_000_000_000,
};

describe('envelope', () => {
  it('round-trips through encode and decode', () => {
    expect(decodeEnvelope(encodeEnvelope(sample))).toEqual(sample);
  });

  it('rejects another envelope version', () => {
    expect(() => decodeEnvelope(JSON.stringify({ ...sample, v: 2 }))).toThrow(EnvelopeError);
  });

  it('rejects unknown kinds, missing fields and non-JSON', () => {
    expect(() => decodeEnvelope(JSON.stringify({ ...sample, kind: 'stanza' }))).toThrow(/kind/);
    const { from: _from, ...noFrom } = sample;
    expect(() => decodeEnvelope(JSON.stringify(noFrom))).toThrow(/from/);
    expect(() => decodeEnvelope('<message/>')).toThrow(/JSON/);
    expect(() => decodeEnvelope(JSON.stringify({ ...sample, id: '' }))).toThrow(/id/);
  });

  it("carries the optional stage marker 'in' and rejects any other stage", () => {
    const forwarded: Envelope = { ...sample, stage: 'in' };
    expect(decodeEnvelope(encodeEnvelope(forwarded))).toEqual(forwarded);
    expect(decodeEnvelope(encodeEnvelope(sample)).stage).toBeUndefined();
    expect(() => decodeEnvelope(JSON.stringify({ ...sample, stage: 'out' }))).toThrow(/stage/);
  });
});

describe('partitionOf', () => {
  it('is FNV-1a of the UTF-8 bytes', () => {
    // FNV-1a 32 of "a" is 0xe40c292c; of "foobar" is 0xbf9cf968 (published test vectors).
    expect(partitionOf('a', 2 ** 32)).toBe(0xe40c292c);
    expect(partitionOf('foobar', 2 ** 32)).toBe(0xbf9cf968);
  });

  it('hashes non-ASCII JIDs as their UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        const bytes = new TextEncoder().encode(s);
        let h = 0x811c9dc5;
        for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
        expect(partitionOf(s, 1021)).toBe((h >>> 0) % 1021);
      }),
    );
  });

  it('spreads users across partitions', () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[partitionOf(`user${i}@example.com`, 16)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(800);
  });

  it('rejects a partition count that is not a positive integer', () => {
    expect(() => partitionOf('a@b', 0)).toThrow(RangeError);
  });
});

describe('key names', () => {
  it('give every key of one user the same hash tag', () => {
    const tag = '{alice@example.com}';
    expect(Keys.sessions('alice@example.com')).toContain(tag);
    expect(Keys.user('alice@example.com', 'roster')).toContain(tag);
    expect(Keys.applied('alice@example.com')).toContain(tag);
  });

  it('name the streams of the architecture', () => {
    expect(Streams.route(3)).toBe('route:{3}');
    expect(Streams.deliver('edge-a')).toBe('deliver:{edge-a}');
    expect(Streams.service('sms.example.com')).toBe('svc:{sms.example.com}');
  });
});

describe('delivery', () => {
  it('round-trips stanza and close deliveries', () => {
    const stanza = {
      v: 1,
      kind: 'stanza',
      id: 'e1',
      sessionId: 's1',
      to: 'romeo@example.net/orchard',
      xml: '<message/>',
      ts: 1,
    } as const;
    const close = {
      v: 1,
      kind: 'close',
      id: 'e2',
      sessionId: 's1',
      to: 'romeo@example.net/orchard',
      condition: 'conflict',
      text: 'Replaced by new connection',
      ts: 2,
    } as const;
    expect(decodeDelivery(encodeDelivery(stanza))).toEqual(stanza);
    expect(decodeDelivery(encodeDelivery(close))).toEqual(close);
  });

  it('rejects unknown delivery kinds and missing fields', () => {
    expect(() => decodeDelivery(JSON.stringify({ v: 1, kind: 'push', id: 'x', ts: 1 }))).toThrow(
      EnvelopeError,
    );
    expect(() =>
      decodeDelivery(JSON.stringify({ v: 1, kind: 'stanza', id: 'x', sessionId: 's', to: 'a@b', ts: 1 })),
    ).toThrow(/xml/);
  });
});
