import { describe, expect, it } from 'vitest';
import {
  NS,
  parseElement,
  serialize,
  StreamError,
  StreamParser,
  type Element,
  type XmlEngine,
  type XmlLimits,
} from './index.js';

const ENGINES: XmlEngine[] = ['native', 'saxes'];

interface Recorded {
  events: string[];
  stanzas: Element[];
  errors: StreamError[];
  parser: StreamParser;
}

/** A parser that records every event as a line, for comparing whole runs. */
function recorderWith(engine: XmlEngine, limits?: Partial<XmlLimits>): Recorded {
  const rec: Recorded = { events: [], stanzas: [], errors: [], parser: undefined as unknown as StreamParser };
  rec.parser = new StreamParser(
    {
      streamStart: (attrs, header) =>
        rec.events.push(`start ${header.name} ${JSON.stringify(Object.entries(attrs))}`),
      stanza: (el) => {
        rec.stanzas.push(el);
        rec.events.push(`stanza ${el.getNS()} ${serialize(el)}`);
      },
      streamEnd: () => rec.events.push('end'),
      error: (err) => {
        rec.errors.push(err);
        rec.events.push(`error ${err.condition}`);
      },
    },
    { ...limits, engine },
  );
  return rec;
}

function parseWith(
  engine: XmlEngine,
  input: string | Buffer | (string | Buffer)[],
  limits?: Partial<XmlLimits>,
): Recorded {
  const rec = recorderWith(engine, limits);
  for (const chunk of Array.isArray(input) ? input : [input]) rec.parser.write(chunk);
  rec.parser.end();
  return rec;
}

function conditionWith(
  engine: XmlEngine,
  input: string | Buffer | (string | Buffer)[],
  limits?: Partial<XmlLimits>,
): string | undefined {
  const { errors } = parseWith(engine, input, limits);
  expect(errors.length).toBeLessThanOrEqual(1);
  return errors[0]?.condition;
}

// RFC 6120 §9.1 (client side of a client-to-server exchange).
const CLIENT_HEADER =
  "<?xml version='1.0'?>\n<stream:stream\n  from='juliet@im.example.com'\n  to='im.example.com'\n  version='1.0'\n" +
  "  xml:lang='en'\n  xmlns='jabber:client'\n  xmlns:stream='http://etherx.jabber.org/streams'>";
const HEADER = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

describe.each(ENGINES)('%s engine', (engine) => {
  const recorder = (limits?: Partial<XmlLimits>): Recorded => recorderWith(engine, limits);
  const parse = (input: string | Buffer | (string | Buffer)[], limits?: Partial<XmlLimits>): Recorded =>
    parseWith(engine, input, limits);
  const conditionOf = (
    input: string | Buffer | (string | Buffer)[],
    limits?: Partial<XmlLimits>,
  ): string | undefined => conditionWith(engine, input, limits);

  describe('StreamParser: RFC 6120 exchanges', () => {
    it('parses the client side of RFC 6120 §9.1 with the XML declaration', () => {
      const rec = parse(
        CLIENT_HEADER +
          "\n<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\n" +
          "<iq id='yhc13a95' type='set'>\n  <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\n" +
          '    <resource>balcony</resource>\n  </bind>\n</iq>\n' +
          "<message from='juliet@example.com/balcony'\n         id='ktx72v49'\n         to='romeo@example.net'\n" +
          "         type='chat'\n         xml:lang='en'>\n  <body>Art thou not Romeo, and a Montague?</body>\n</message>\n" +
          '</stream:stream>',
      );
      expect(rec.errors).toEqual([]);
      expect(rec.events[0]).toBe(
        'start stream:stream [["from","juliet@im.example.com"],["to","im.example.com"],["version","1.0"],' +
          '["xml:lang","en"],["xmlns","jabber:client"],["xmlns:stream","http://etherx.jabber.org/streams"]]',
      );
      const [starttls, iq, message] = rec.stanzas;
      expect(starttls!.is('starttls', 'urn:ietf:params:xml:ns:xmpp-tls')).toBe(true);
      expect(iq!.is('iq', NS.CLIENT)).toBe(true);
      expect(iq!.getChild('bind', 'urn:ietf:params:xml:ns:xmpp-bind')!.getChildText('resource')).toBe(
        'balcony',
      );
      expect(message!.attrs).toMatchObject({ id: 'ktx72v49', to: 'romeo@example.net', 'xml:lang': 'en' });
      expect(message!.getChildText('body', NS.CLIENT)).toBe('Art thou not Romeo, and a Montague?');
      expect(rec.events.at(-1)).toBe('end');
      expect(rec.stanzas).toHaveLength(3);
    });

    it('parses the server side: features and a stream error, with the stream namespace known', () => {
      const rec = parse(
        "<stream:stream from='im.example.com' id='t7AMCin9zjMNwQKDnplntZPIDEI=' to='juliet@im.example.com' " +
          "version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" +
          "<stream:features>\n  <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>\n    <required/>\n  </starttls>\n</stream:features>" +
          "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>",
      );
      expect(rec.errors).toEqual([]);
      const [features, error] = rec.stanzas;
      expect(features!.is('features', NS.STREAMS)).toBe(true);
      expect(
        features!.getChild('starttls')!.getChild('required', 'urn:ietf:params:xml:ns:xmpp-tls'),
      ).toBeDefined();
      expect(error!.is('error', NS.STREAMS)).toBe(true);
      expect(error!.getChild('not-well-formed', NS.STREAM_ERRORS)).toBeDefined();
      expect(rec.events.at(-1)).toBe('end');
    });
  });

  describe('StreamParser: namespaces', () => {
    it('gives a stanza without xmlns the content namespace of the header, so it stands alone', () => {
      const rec = parse(`${HEADER}<message to='romeo@example.net'><body>hi</body></message>`);
      const msg = rec.stanzas[0]!;
      expect(msg.parent).toBeUndefined();
      expect(msg.attrs.xmlns).toBe(NS.CLIENT);
      expect(msg.getChild('body')!.getNS()).toBe(NS.CLIENT);
      expect(parseElement(serialize(msg), { engine }).getChild('body', NS.CLIENT)).toBeDefined();
    });

    it('keeps a namespace the stanza declares itself', () => {
      const rec = parse(
        "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>" +
          "<handshake>aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e</handshake><message xmlns='jabber:client'/>",
      );
      expect(rec.stanzas[0]!.getNS()).toBe(NS.COMPONENT);
      expect(rec.stanzas[1]!.getNS()).toBe(NS.CLIENT);
      expect(Object.keys(rec.stanzas[1]!.attrs)).toEqual(['xmlns']);
    });

    it('declares on the stanza every header prefix used inside it', () => {
      const rec = parse(
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:x='urn:x'>" +
          "<message><x:data x:kind='k'/></message><stream:features/>",
      );
      const [msg, features] = rec.stanzas;
      expect(msg!.attrs).toEqual({ xmlns: NS.CLIENT, 'xmlns:x': 'urn:x' });
      expect(msg!.getChild('data', 'urn:x')).toBeDefined();
      // stream:features uses only the stream prefix, not the default namespace.
      expect(features!.attrs).toEqual({ 'xmlns:stream': NS.STREAMS });
    });

    it('resolves prefixes declared inside the stanza without copying anything', () => {
      const rec = parse(
        `${HEADER}<iq xmlns='jabber:client'><p:query xmlns:p='urn:p'><p:item/></p:query></iq>`,
      );
      const iq = rec.stanzas[0]!;
      expect(iq.attrs).toEqual({ xmlns: NS.CLIENT });
      expect(iq.getChild('query', 'urn:p')!.getChild('item', 'urn:p')).toBeDefined();
    });

    it('rejects an undeclared stream prefix with bad-namespace-prefix (RFC 6120 §4.9.3.2)', () => {
      expect(conditionOf("<stream:stream xmlns='jabber:client' to='example.com' version='1.0'>")).toBe(
        'bad-namespace-prefix',
      );
      expect(conditionOf(`${HEADER}<message><y:z/></message>`)).toBe('bad-namespace-prefix');
    });

    it('rejects a root that is not the streams namespace with invalid-namespace (RFC 6120 §4.9.3.10)', () => {
      expect(conditionOf("<stream:stream xmlns:stream='http://wrong.example/streams'>")).toBe(
        'invalid-namespace',
      );
      expect(conditionOf("<html xmlns='http://www.w3.org/1999/xhtml'>")).toBe('invalid-namespace');
    });
  });

  describe('StreamParser: stream handling', () => {
    it('ignores whitespace keepalives between stanzas (RFC 6120 §4.6.1)', () => {
      const rec = parse([HEADER, ' ', '\n', '<presence/>', '\r\n\t ', '<presence/>', ' ']);
      expect(rec.events.filter((e) => e.startsWith('stanza'))).toHaveLength(2);
      expect(rec.errors).toEqual([]);
    });

    it('reports character data between stanzas as bad-format', () => {
      expect(conditionOf(`${HEADER}hello<presence/>`)).toBe('bad-format');
      expect(conditionOf(`${HEADER}<![CDATA[x]]>`)).toBe('bad-format');
    });

    it('reads CDATA sections, character references and predefined entities as text', () => {
      const rec = parse(
        `${HEADER}<message><body>a&amp;b &lt;&#x1F600;&#38;<![CDATA[<x>&amp;]]>&apos;&quot;</body></message>`,
      );
      expect(rec.stanzas[0]!.getChildText('body')).toBe(`a&b <😀&<x>&amp;'"`);
      expect(rec.stanzas[0]!.getChild('body')!.children).toHaveLength(1);
    });

    it('stops after the stream is closed and ignores what follows', () => {
      const rec = parse(`${HEADER}<presence/></stream:stream><presence/>garbage`);
      expect(rec.events.slice(1)).toEqual([`stanza jabber:client <presence xmlns="jabber:client"/>`, 'end']);
      expect(rec.parser.done).toBe(true);
    });

    it('stops at the first error and ignores further input', () => {
      const rec = recorder();
      rec.parser.write(`${HEADER}<a></b>`);
      rec.parser.write('<presence/>');
      rec.parser.end();
      expect(rec.events.slice(1)).toEqual(['error not-well-formed']);
      expect(rec.errors[0]).toBeInstanceOf(StreamError);
      expect(rec.errors[0]!.name).toBe('StreamError');
    });

    it('restarts on reset() from a handler and discards the rest of that chunk (RFC 6120 §5.4.3.3)', () => {
      const events: string[] = [];
      const parser: StreamParser = new StreamParser(
        {
          streamStart: (attrs) => events.push(`start ${attrs.to}`),
          stanza: (el) => {
            events.push(el.name);
            if (el.name === 'starttls') parser.reset();
          },
          error: (err) => events.push(`error ${err.condition}`),
        },
        { engine },
      );
      parser.write(
        `<stream:stream to='a' xmlns='jabber:client' xmlns:stream='${NS.STREAMS}'>` +
          `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><iq type='set' id='injected'/>`,
      );
      parser.write(
        `<?xml version='1.0'?><stream:stream to='b' xmlns='jabber:client' xmlns:stream='${NS.STREAMS}'><presence/>`,
      );
      parser.end();
      expect(events).toEqual(['start a', 'starttls', 'start b', 'presence']);
    });

    it('lets an exception from a handler out of write and stops', () => {
      const parser = new StreamParser(
        {
          stanza: () => {
            throw new RangeError('handler bug');
          },
          error: () => undefined,
        },
        { engine },
      );
      expect(() => parser.write(`${HEADER}<presence/>`)).toThrow(RangeError);
      expect(parser.done).toBe(true);
    });
  });

  describe('StreamParser: RFC 6120 §11 restrictions', () => {
    const billionLaughs =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
      Array.from(
        { length: 9 },
        (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`,
      ).join('') +
      ']><lolz>&lol9;</lolz>';

    it('rejects the billion-laughs payload with restricted-xml, without expanding it', () => {
      const rec = parse(billionLaughs);
      expect(rec.events).toEqual(['error restricted-xml']);
      expect(rec.stanzas).toEqual([]);

      // The DTD alone is refused: the parser has stopped before `&lol9;` is even fed, so there is
      // nothing to expand, and what comes after is never read.
      const cut = billionLaughs.indexOf('<lolz>');
      const fed = recorder();
      fed.parser.write(billionLaughs.slice(0, cut));
      expect(fed.events).toEqual(['error restricted-xml']);
      expect(fed.parser.done).toBe(true);
      const consumed = fed.parser.bytes;
      expect(consumed).toBeLessThanOrEqual(cut);
      fed.parser.write(billionLaughs.slice(cut));
      fed.parser.end();
      expect(fed.events).toEqual(['error restricted-xml']);
      expect(fed.parser.bytes).toBe(consumed);
      expect(fed.errors[0]!.message).not.toMatch(/(?:lol){4}/);
      const inStream = parse(
        `${HEADER}<message><body>${billionLaughs.replace('<?xml version="1.0"?>', '')}</body></message>`,
      );
      expect(inStream.events.slice(1)).toEqual(['error restricted-xml']);
    });

    it('rejects an external entity (XXE) with restricted-xml and never reads it', () => {
      const rec = parse(
        `<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${HEADER}<message><body>&e;</body></message>`,
      );
      expect(rec.events).toEqual(['error restricted-xml']);
      expect(rec.errors[0]!.message).not.toContain('root:');
    });

    it('rejects an undefined entity reference with restricted-xml', () => {
      expect(conditionOf(`${HEADER}<message><body>&foo;</body></message>`)).toBe('restricted-xml');
      expect(conditionOf(`${HEADER}<message to='&nbsp;'/>`)).toBe('restricted-xml');
    });

    it('rejects processing instructions and comments anywhere with restricted-xml', () => {
      expect(conditionOf(`${HEADER}<message><?php echo 1; ?></message>`)).toBe('restricted-xml');
      expect(conditionOf(`${HEADER}<?pi?><presence/>`)).toBe('restricted-xml');
      expect(conditionOf(`${HEADER}<message><!-- hi --></message>`)).toBe('restricted-xml');
      expect(conditionOf(`${HEADER}<!-- between stanzas --><presence/>`)).toBe('restricted-xml');
      expect(conditionOf(`<!-- before -->${HEADER}`)).toBe('restricted-xml');
    });

    it('accepts the XML declaration only at the very start', () => {
      expect(conditionOf(`<?xml version='1.0' encoding='UTF-8'?>${HEADER}<presence/>`)).toBeUndefined();
      expect(conditionOf(`${HEADER}<?xml version='1.0'?><presence/>`)).toBe('not-well-formed');
    });

    it('rejects a declared encoding other than UTF-8 with unsupported-encoding (RFC 6120 §11.6)', () => {
      expect(conditionOf(`<?xml version='1.0' encoding='ISO-8859-1'?>${HEADER}`)).toBe(
        'unsupported-encoding',
      );
    });
  });

  describe('StreamParser: malformed input', () => {
    it('reports invalid UTF-8 as unsupported-encoding (RFC 6120 §4.9.3.22)', () => {
      const head = Buffer.from(`${HEADER}<message><body>`);
      for (const bad of [
        [0xff],
        [0xc0, 0xaf],
        [0xed, 0xa0, 0x80],
        [0xf8, 0x88, 0x80, 0x80, 0x80],
        [0xe2, 0x28, 0xa1],
      ]) {
        expect(conditionOf([head, Buffer.from(bad), Buffer.from('</body></message>')])).toBe(
          'unsupported-encoding',
        );
      }
    });

    it('reports characters XML 1.0 forbids as not-well-formed', () => {
      expect(conditionOf(`${HEADER}<message><body>a\u0001b</body></message>`)).toBe('not-well-formed');
      expect(conditionOf(`${HEADER}<message><body>&#0;</body></message>`)).toBe('not-well-formed');
      expect(conditionOf(`${HEADER}<message to='\u001f'/>`)).toBe('not-well-formed');
    });

    it('reports mismatched, unclosed and broken tags as not-well-formed', () => {
      for (const stanza of [
        '<message><body></message>',
        '<message></body>',
        '<message to=romeo/>',
        "<message to='a' to='b'/>",
        '<1message/>',
        '<message>]]></message>',
        '</presence>',
      ]) {
        expect(conditionOf(`${HEADER}${stanza}`), stanza).toBe('not-well-formed');
      }
    });

    it('reports garbage bytes as an error before any stanza', () => {
      let seed = 42;
      const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      for (let run = 0; run < 20; run++) {
        const bytes = Buffer.from(Array.from({ length: 256 }, () => Math.floor(random() * 256)));
        const rec = parse([Buffer.from(HEADER), bytes]);
        expect(rec.stanzas).toEqual([]);
        expect(['not-well-formed', 'unsupported-encoding', 'restricted-xml', 'bad-format']).toContain(
          rec.errors[0]?.condition,
        );
      }
    });

    it('decodes a character split across chunks that follows ASCII input, and the ASCII after it', () => {
      const snowman = Buffer.from('☃'); // three bytes
      const { stanzas, errors } = parse([
        Buffer.from(`${HEADER}<message><body>a`),
        snowman.subarray(0, 1),
        snowman.subarray(1),
        Buffer.from('b</body></message>'),
        Buffer.from('<message><body>plain</body></message>'),
      ]);
      expect(errors).toEqual([]);
      expect(stanzas.map((el) => el.getChildText('body'))).toEqual(['a☃b', 'plain']);
    });

    it('reports input truncated inside a stanza or the header as not-well-formed at end()', () => {
      expect(conditionOf(`${HEADER}<message><body>hi</bo`)).toBe('not-well-formed');
      expect(conditionOf(`${HEADER}<message`)).toBe('not-well-formed');
      expect(conditionOf(`${HEADER} <`)).toBe('not-well-formed');
      expect(conditionOf(`<stream:stream xmlns='jabber:client'`)).toBe('not-well-formed');
      expect(conditionOf([Buffer.from(`${HEADER}<message><body>`), Buffer.from([0xf0, 0x9f])])).toBe(
        'unsupported-encoding',
      );
    });

    it('reports nothing when the transport ends between stanzas or before any byte', () => {
      expect(parse(`${HEADER}<presence/>  `).events).toHaveLength(2);
      expect(parse([]).events).toEqual([]);
    });
  });

  describe('StreamParser: limits', () => {
    // Longer than the header, which counts against the same cap.
    const stanza = `<message><body>été 😀 日本 ${'x'.repeat(100)}</body></message>`;
    const size = Buffer.byteLength(stanza);

    it('accepts a stanza of exactly maxStanzaBytes UTF-8 bytes and rejects one byte more', () => {
      expect(conditionOf(`${HEADER}\n${stanza}\n${stanza}`, { maxStanzaBytes: size })).toBeUndefined();
      expect(conditionOf(`${HEADER}\n${stanza}`, { maxStanzaBytes: size - 1 })).toBe('policy-violation');
      const bytes = Buffer.from(`${HEADER}\n${stanza}`);
      expect(
        conditionOf(
          [...bytes].map((b) => Buffer.from([b])),
          { maxStanzaBytes: size },
        ),
      ).toBeUndefined();
      expect(
        conditionOf(
          [...bytes].map((b) => Buffer.from([b])),
          { maxStanzaBytes: size - 1 },
        ),
      ).toBe('policy-violation');
    });

    it('stops an endless stanza, start tag or header once the cap is passed, before it ends', () => {
      const cap = 4096;
      const cases = [
        [`${HEADER}<message><body>`, 'a'.repeat(100)],
        [`${HEADER}<message to='`, 'a'.repeat(100)],
        [`${HEADER}<message`, ' '.repeat(100)],
        ['<stream:stream', ' '.repeat(100)],
        [`${HEADER}<message><body>&`, 'a'.repeat(100)],
      ] as const;
      for (const [start, filler] of cases) {
        const rec = recorder({ maxStanzaBytes: cap });
        rec.parser.write(start);
        let written = start.length;
        while (rec.errors.length === 0 && written < 10 * cap) {
          rec.parser.write(filler);
          written += filler.length;
        }
        expect(
          rec.errors.map((e) => e.condition),
          start,
        ).toEqual(['policy-violation']);
        expect(written).toBeLessThanOrEqual(cap + 2 * HEADER.length + filler.length);
      }
    });

    it('does not count whitespace keepalives towards the cap', () => {
      const rec = recorder({ maxStanzaBytes: 1024 });
      rec.parser.write(HEADER);
      for (let i = 0; i < 5000; i++) rec.parser.write(' ');
      rec.parser.write('<presence/>');
      for (let i = 0; i < 5000; i++) rec.parser.write('\n');
      rec.parser.end();
      expect(rec.errors).toEqual([]);
      expect(rec.stanzas).toHaveLength(1);
    });

    it('enforces maxDepth counted from the stanza', () => {
      const nested = (depth: number): string => '<a>'.repeat(depth) + '</a>'.repeat(depth);
      expect(conditionOf(`${HEADER}${nested(32)}`)).toBeUndefined();
      expect(conditionOf(`${HEADER}${nested(33)}`)).toBe('policy-violation');
      expect(conditionOf(`${HEADER}${nested(4)}`, { maxDepth: 3 })).toBe('policy-violation');
    });

    it('enforces maxAttributes, maxNameLength and maxAttributeValueLength', () => {
      const attrs = (n: number): string => Array.from({ length: n }, (_, i) => ` a${i}='v'`).join('');
      expect(conditionOf(`${HEADER}<message${attrs(64)}/>`)).toBeUndefined();
      expect(conditionOf(`${HEADER}<message${attrs(65)}/>`)).toBe('policy-violation');
      expect(conditionOf(`${HEADER}<${'m'.repeat(1024)}/>`)).toBeUndefined();
      expect(conditionOf(`${HEADER}<${'m'.repeat(1025)}/>`)).toBe('policy-violation');
      expect(conditionOf(`${HEADER}<message ${'a'.repeat(1025)}='v'/>`)).toBe('policy-violation');
      expect(conditionOf(`${HEADER}<message to='${'v'.repeat(65536)}'/>`)).toBeUndefined();
      expect(conditionOf(`${HEADER}<message to='${'v'.repeat(65537)}'/>`)).toBe('policy-violation');
      expect(conditionOf(`${HEADER}<message to='${'v'.repeat(11)}'/>`, { maxAttributeValueLength: 10 })).toBe(
        'policy-violation',
      );
    });
  });

  describe('StreamParser: chunking', () => {
    const stream = Buffer.from(
      `<?xml version='1.0'?>${HEADER}\n` +
        "<message to='romeo@example.net' type='chat'><body>Ça va? 日本語 😀 &amp; &#x1F44D;</body></message>\n" +
        "<presence><status>Привет, мир 🌍</status><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v='/></presence>" +
        "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq> <stream:features/>\r\n" +
        '<message><body><![CDATA[<😀>]]>\r\nend</body></message></stream:stream>',
    );
    const reference = parse(stream).events;

    it('has a reference run with every stanza and no error', () => {
      expect(reference.filter((e) => e.startsWith('stanza'))).toHaveLength(5);
      expect(reference.at(-1)).toBe('end');
    });

    it('yields the same events for the stream split in two at every byte offset', () => {
      for (let at = 0; at <= stream.length; at++) {
        expect(parse([stream.subarray(0, at), stream.subarray(at)]).events, `split at ${at}`).toEqual(
          reference,
        );
      }
    });

    it('yields the same events fed one byte at a time', () => {
      expect(parse([...stream].map((b) => Buffer.from([b]))).events).toEqual(reference);
    });

    it('yields the same events for string chunks split at every UTF-16 offset', () => {
      const text = stream.toString('utf8');
      for (let at = 0; at <= text.length; at++) {
        expect(parse([text.slice(0, at), text.slice(at)]).events, `split at ${at}`).toEqual(reference);
      }
    });
  });
});
