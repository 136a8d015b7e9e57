import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NS, parseElement, serialize, StreamError, StreamParser, type XmlEngine } from './index.js';

const HEADER = `<?xml version='1.0'?><stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='${NS.STREAMS}' xmlns:x='urn:x'>`;

// Real stanzas: RFC 6120 §8.3.3 / §9.1, RFC 6121 §2.1.3 / §4.7.1, XEP-0115 §4, with CDATA, references and CRLF.
const STANZAS = [
  "<message from='juliet@example.com/balcony' id='ktx72v49' to='romeo@example.net' type='chat' xml:lang='en'><body>Art thou not Romeo, and a Montague?</body></message>",
  "<iq from='juliet@example.com/balcony' id='rg1' type='get'><query xmlns='jabber:iq:roster'/></iq>",
  "<iq id='rr1' to='juliet@example.com/balcony' type='result'><query xmlns='jabber:iq:roster' ver='ver7'><item jid='nurse@example.com'/><item jid='romeo@example.net'/></query></iq>",
  "<presence from='romeo@example.net/orchard'><show>away</show><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://code.google.com/p/exodus' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>",
  '<message to=\'a@b\'><body>Ça &amp; 日本 😀 &#x1F44D;&#38;<![CDATA[<x>]]>\r\n&lt;&gt;&quot;&apos;</body><x:data x:k="v\tw\r\nz"/></message>',
  '<stream:features><starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"><required/></starttls></stream:features>',
];
const STREAM = Buffer.from(`${HEADER}\n${STANZAS.join(' \r\n')}</stream:stream>`);

/** Every event of one run as a line: the same lines mean the same behaviour. */
function run(engine: XmlEngine, chunks: readonly (Buffer | string)[], maxStanzaBytes?: number): string[] {
  const events: string[] = [];
  const parser = new StreamParser(
    {
      streamStart: (attrs) => events.push(`start ${JSON.stringify(Object.entries(attrs))}`),
      stanza: (el) => events.push(`stanza ${el.getNS()} ${serialize(el)}`),
      streamEnd: () => events.push('end'),
      error: (err) => events.push(`error ${err.condition}`),
    },
    maxStanzaBytes === undefined ? { engine } : { engine, maxStanzaBytes },
  );
  for (const chunk of chunks) parser.write(chunk);
  parser.end();
  return events;
}

/**
 * Given the input in one piece, both engines must give exactly the same
 * events. Cut into chunks, the input may be malformed in a way that each
 * engine notices at a different place (the native one refuses `&example.com'`
 * at the quote, saxes reads on to a ';'; saxes refuses a bad XML declaration
 * before its `?>`, the native one at it); a later chunk can then fail first in
 * one of them, as invalid UTF-8 or over the size cap. So the events must be
 * the same except for the final error, which is one of those.
 */
function expectAgreement(chunks: readonly Buffer[]): void {
  const native = run('native', chunks);
  const saxes = run('saxes', chunks);
  const last = (e: string[]): string => e.at(-1) ?? '';
  if (last(native) !== last(saxes) && last(native).startsWith('error')) {
    expect(native.slice(0, -1)).toEqual(saxes.slice(0, -1));
    for (const e of [last(native), last(saxes)]) {
      expect(e).toMatch(/^error (not-well-formed|unsupported-encoding|policy-violation)$/);
    }
  } else expect(native).toEqual(saxes);
}

function oneShot(engine: XmlEngine, input: Buffer): string {
  try {
    return serialize(parseElement(input, { engine, defaultNamespace: NS.CLIENT }));
  } catch (err) {
    if (err instanceof StreamError) return `error ${err.condition}`;
    throw err;
  }
}

/** Cuts `bytes` at the given offsets (taken modulo its length). */
function cut(bytes: Buffer, at: readonly number[]): Buffer[] {
  const offsets = [...new Set(at.map((a) => a % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const to of offsets) {
    chunks.push(bytes.subarray(from, to));
    from = to;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

// Bytes that matter to XML syntax, UTF-8 lead and continuation bytes, and anything.
const interesting = fc.oneof(
  fc.constantFrom(
    ...Buffer.from(`<>&;'"=/!?-[]: \t\r\nx#`),
    0x00,
    0x01,
    0x7f,
    0x80,
    0xbf,
    0xc3,
    0xe2,
    0xf0,
    0xff,
  ),
  fc.integer({ min: 0, max: 255 }),
);
const mutation = fc.record({
  kind: fc.constantFrom('replace', 'insert', 'delete'),
  at: fc.nat(),
  byte: interesting,
});

function mutate(bytes: Buffer, mutations: readonly { kind: string; at: number; byte: number }[]): Buffer {
  const out = [...bytes];
  for (const m of mutations) {
    const at = m.at % (out.length + 1);
    if (m.kind === 'insert') out.splice(at, 0, m.byte);
    else if (at < out.length) {
      if (m.kind === 'replace') out[at] = m.byte;
      else out.splice(at, 1);
    }
  }
  return Buffer.from(out);
}

describe('native engine against saxes (differential)', () => {
  it('agrees on the reference stream, which parses without error', () => {
    const events = run('native', [STREAM]);
    expect(events.filter((e) => e.startsWith('stanza'))).toHaveLength(STANZAS.length);
    expect(events).toEqual(run('saxes', [STREAM]));
  });

  it('agrees event by event on randomly mutated streams written whole', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        const bytes = mutate(STREAM, mutations);
        expect(run('native', [bytes])).toEqual(run('saxes', [bytes]));
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees on randomly mutated streams cut into random chunks', () => {
    fc.assert(
      fc.property(
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (mutations, at) => {
          expectAgreement(cut(mutate(STREAM, mutations), at));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('agrees on mutated single stanzas parsed with parseElement', () => {
    fc.assert(
      fc.property(fc.constantFrom(...STANZAS), fc.array(mutation, { minLength: 1, maxLength: 3 }), (s, m) => {
        const input = mutate(Buffer.from(s), m);
        expect(oneShot('native', input)).toBe(oneShot('saxes', input));
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees on where the stanza size cap falls, at every cap', () => {
    for (let cap = 120; cap < 400; cap += 7) {
      expect(run('native', [STREAM], cap), `cap ${cap}`).toEqual(run('saxes', [STREAM], cap));
    }
  });
});

describe('native engine: chunking', () => {
  // Invalid UTF-8 fails the whole chunk it is in before any of it is parsed (both engines),
  // so invariance is for input that decodes.
  it('gives the same events however mutated input is cut, errors included', () => {
    fc.assert(
      fc.property(
        fc.array(mutation, { maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (mutations, at) => {
          const bytes = mutate(STREAM, mutations);
          fc.pre(isUtf8(bytes));
          expect(run('native', cut(bytes, at))).toEqual(run('native', [bytes]));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('reads a start tag trickled one byte at a time in linear time', () => {
    // Longer than the carry kept as a string: the rope path must find the end of the tag.
    const value = 'v'.repeat(200_000);
    const bytes = Buffer.from(`${HEADER}<message to='${value}' id="a>b"/>`);
    const started = performance.now();
    const events: string[] = [];
    const parser = new StreamParser(
      { stanza: (el) => events.push(el.attrs.id!), error: (e) => events.push(e.condition) },
      { engine: 'native', maxAttributeValueLength: 300_000 },
    );
    for (let at = 0; at < bytes.length; at += 3) parser.write(bytes.subarray(at, at + 3));
    expect(events).toEqual(['a>b']);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('does not keep whitespace keepalives in memory between stanzas', () => {
    const parser = new StreamParser({ stanza: () => undefined, error: (e) => expect.fail(e.message) });
    parser.write(HEADER);
    for (let i = 0; i < 10_000; i++) parser.write(' \r\n');
    const text = (parser as unknown as { builder: { text: string } }).builder.text;
    expect(text.length).toBeLessThanOrEqual(64);
  });
});
