import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Element,
  NS,
  parseElement as parseElementWith,
  serialize,
  StreamError,
  type Node,
  type ParseElementOptions,
  type XmlEngine,
} from './index.js';

const ENGINES: XmlEngine[] = ['native', 'saxes'];

/** The condition parseElement throws with, undefined when it parses. */
function conditionOf(parse: () => unknown): string | undefined {
  try {
    parse();
  } catch (err) {
    if (err instanceof StreamError) return err.condition;
    throw err;
  }
  return undefined;
}

interface Plain {
  name: string;
  attrs: Record<string, string>;
  children: (Plain | string)[];
}

/** Structure only, without parent links; adjacent text merged and empty text dropped, as a parser sees it. */
function plain(el: Element): Plain {
  const children: (Plain | string)[] = [];
  for (const child of el.children) {
    if (typeof child !== 'string') children.push(plain(child));
    else if (child === '') continue;
    else {
      const last = children.at(-1);
      if (typeof last === 'string') children[children.length - 1] = last + child;
      else children.push(child);
    }
  }
  return { name: el.name, attrs: { ...el.attrs }, children };
}

describe.each(ENGINES)('%s engine', (engine) => {
  const parseElement = (input: string | Uint8Array, options?: ParseElementOptions): Element =>
    parseElementWith(input, { ...options, engine });

  describe('parseElement', () => {
    it('parses RFC 7395 WebSocket frames, each a whole element', () => {
      const open = parseElement(
        "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>",
      );
      expect(open.is('open', NS.FRAMING)).toBe(true);
      expect(open.attr('to')).toBe('example.com');
      const features = parseElement(
        "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>" +
          "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>",
      );
      expect(features.is('features', NS.STREAMS)).toBe(true);
      expect(
        parseElement("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>").is('close', NS.FRAMING),
      ).toBe(true);
    });

    it('applies a given default namespace and records it on the element', () => {
      const msg = parseElement("<message to='romeo@example.net'><body>hi</body></message>", {
        defaultNamespace: NS.CLIENT,
      });
      expect(msg.attrs.xmlns).toBe(NS.CLIENT);
      expect(msg.getChild('body')!.getNS()).toBe(NS.CLIENT);
      expect(parseElement('<message/>').getNS()).toBe('');
    });

    it('accepts bytes and rejects invalid UTF-8', () => {
      expect(parseElement(Buffer.from('<body>日本</body>')).getText()).toBe('日本');
      expect(
        conditionOf(() => parseElement(Buffer.from([0x3c, 0x61, 0x3e, 0xff, 0x3c, 0x2f, 0x61, 0x3e]))),
      ).toBe('unsupported-encoding');
    });

    it('applies the same restrictions and limits as a stream', () => {
      const cases: [string, string][] = [
        ['<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>', 'restricted-xml'],
        ['<a>&x;</a>', 'restricted-xml'],
        ['<a><!--c--></a>', 'restricted-xml'],
        ['<a><?pi?></a>', 'restricted-xml'],
        ['<a></b>', 'not-well-formed'],
        ['<a>', 'not-well-formed'],
        ['<a/><b/>', 'not-well-formed'],
        ['', 'not-well-formed'],
        ['text', 'not-well-formed'],
        ['<p:a/>', 'bad-namespace-prefix'],
        [`<a>${'<b>'.repeat(40)}${'</b>'.repeat(40)}</a>`, 'policy-violation'],
        [`<a>${'x'.repeat(256 * 1024)}</a>`, 'policy-violation'],
      ];
      for (const [input, condition] of cases) {
        expect(
          conditionOf(() => parseElement(input)),
          input.slice(0, 40),
        ).toBe(condition);
      }
      expect(conditionOf(() => parseElement('<a>é</a>', { maxStanzaBytes: 8 }))).toBe('policy-violation');
      expect(parseElement('<a>é</a>', { maxStanzaBytes: 9 }).getText()).toBe('é');
    });

    it('keeps working after an error', () => {
      expect(() => parseElement('<a><b></a>')).toThrow();
      expect(serialize(parseElement('<a><b/></a>'))).toBe('<a><b/></a>');
    });
  });

  describe('serialize → parseElement', () => {
    // XML 1.0 §2.2 Char, for one code point.
    const isXmlChar = (c: string): boolean => {
      const cp = c.codePointAt(0)!;
      return (cp >= 0x20 || cp === 0x9 || cp === 0xa || cp === 0xd) && cp !== 0xfffe && cp !== 0xffff;
    };
    const char = fc.oneof(
      fc.constantFrom(
        '&',
        '<',
        '>',
        '"',
        "'",
        '\t',
        '\n',
        '\r',
        '\r\n',
        ' ',
        ']]>',
        '&amp;',
        '😀',
        '日',
        'é',
        '\u00a0',
      ),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter(isXmlChar),
    );
    const text = fc.string({ unit: char, maxLength: 12 });
    const name = fc
      .oneof(
        fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.-]{0,7}$/),
        fc.constantFrom('body', 'é', '日本', 'a-b.c', '_x'),
      )
      .filter((n) => !/^xml/i.test(n) && n !== '__proto__');

    const tree = fc.letrec<{ el: Element; node: Node }>((tie) => ({
      el: fc
        .record({
          name,
          attrs: fc.dictionary(name, text, { maxKeys: 4 }),
          children: fc.array(tie('node'), { maxLength: 4, depthIdentifier: 'tree' }),
        })
        .map(({ name: n, attrs, children }) => {
          const el = new Element(n, { ...attrs });
          for (const child of children) {
            if (typeof child !== 'string') child.parent = el;
            el.children.push(child);
          }
          return el;
        }),
      node: fc.oneof({ depthIdentifier: 'tree', maxDepth: 4 }, text, tie('el')),
    })).el;

    it('parses serialized output back to the same tree', () => {
      fc.assert(
        fc.property(tree, (el) => {
          expect(plain(parseElement(serialize(el)))).toEqual(plain(el));
        }),
        { numRuns: 500 },
      );
    });

    it('parses serialized output back to the same tree through a stream in small chunks', async () => {
      const { StreamParser } = await import('./index.js');
      fc.assert(
        fc.property(tree, fc.integer({ min: 1, max: 7 }), (el, step) => {
          const got: Element[] = [];
          const parser = new StreamParser(
            {
              stanza: (s) => got.push(s),
              error: (e) => {
                throw e;
              },
            },
            { engine },
          );
          const bytes = Buffer.from(
            `<stream:stream xmlns:stream='${NS.STREAMS}'>${serialize(el)}</stream:stream>`,
          );
          for (let at = 0; at < bytes.length; at += step) parser.write(bytes.subarray(at, at + step));
          expect(got.map(plain)).toEqual([plain(el)]);
        }),
        { numRuns: 200 },
      );
    });
  });
});
