import { describe, expect, it } from 'vitest';
import {
  Element,
  escapeText,
  escapeXml,
  isValidName,
  NS,
  serialize,
  startTag,
  streamErrorElement,
  xml,
} from './index.js';

describe('xml builder and Element', () => {
  it('builds a message like RFC 6120 §8.5 and serializes it', () => {
    const msg = xml(
      'message',
      {
        from: 'juliet@example.com/balcony',
        id: 'ktx72v49',
        to: 'romeo@example.net',
        type: 'chat',
        'xml:lang': 'en',
      },
      xml('body', {}, 'Art thou not Romeo, and a Montague?'),
    );
    expect(serialize(msg)).toBe(
      '<message from="juliet@example.com/balcony" id="ktx72v49" to="romeo@example.net" type="chat" xml:lang="en">' +
        '<body>Art thou not Romeo, and a Montague?</body></message>',
    );
    expect(msg.toString()).toBe(serialize(msg));
  });

  it('leaves out null and undefined attributes, stringifies numbers, flattens and skips children', () => {
    const el = xml('item', { a: undefined, b: null, c: 5 }, [xml('x'), null, [false, 'text', 7]], undefined);
    expect(el.attrs).toEqual({ c: '5' });
    expect(el.children.map(String)).toEqual(['<x/>', 'text', '7']);
  });

  it('rejects names that would serialize into different markup', () => {
    expect(() => xml('a b')).toThrow(TypeError);
    expect(() => xml('a', { 'x"y': '1' })).toThrow(TypeError);
    expect(() => xml('a:b:c')).toThrow(TypeError);
    expect(isValidName('stream:features')).toBe(true);
    expect(isValidName('日本')).toBe(true);
    expect(isValidName('1a')).toBe(false);
  });

  it('finds children by local name and namespace, and reads their text', () => {
    const iq = xml(
      'iq',
      { xmlns: NS.CLIENT, type: 'result', id: 'b' },
      xml(
        'query',
        { xmlns: 'jabber:iq:roster' },
        xml('item', { jid: 'nurse@example.com' }, xml('group', {}, 'Servants')),
        xml('item', { jid: 'romeo@example.net' }),
      ),
    );
    const query = iq.getChild('query', 'jabber:iq:roster')!;
    expect(iq.getChild('query', NS.CLIENT)).toBeUndefined();
    expect(query.getChildren('item').map((i) => i.attr('jid'))).toEqual([
      'nurse@example.com',
      'romeo@example.net',
    ]);
    expect(query.getChildren('item', 'jabber:iq:roster')).toHaveLength(2);
    expect(query.getChild('item')!.getChildText('group')).toBe('Servants');
    expect(query.getChild('item')!.getChildText('missing')).toBeUndefined();
    expect(query.getChildElements()).toHaveLength(2);
    expect(iq.getNS()).toBe(NS.CLIENT);
    expect(query.getChild('item')!.getNS()).toBe('jabber:iq:roster');
  });

  it('resolves prefixes through ancestors, and xml: by definition', () => {
    const features = xml('stream:features', { 'xmlns:stream': NS.STREAMS }, xml('stream:x'));
    const inner = features.getChild('x')!;
    expect(inner.getNS()).toBe(NS.STREAMS);
    expect(inner.is('x', NS.STREAMS)).toBe(true);
    expect(inner.getPrefix()).toBe('stream');
    expect(inner.resolvePrefix('xml')).toBe(NS.XML);
    expect(xml('a').getNS()).toBe('');
  });

  it('sets and removes attributes, removes children, and clones deeply', () => {
    const body = xml('body', {}, 'hi');
    const msg = xml('message', { to: 'a@b' }, body);
    msg.setAttr('from', 'c@d/e').setAttr('to', undefined);
    expect(msg.attrs).toEqual({ from: 'c@d/e' });
    const copy = msg.clone();
    expect(msg.removeChild(body)).toBe(true);
    expect(msg.removeChild(body)).toBe(false);
    expect(body.parent).toBeUndefined();
    expect(serialize(copy)).toBe('<message from="c@d/e"><body>hi</body></message>');
    expect(copy.getChild('body')!.parent).toBe(copy);
  });

  it('writes an open start tag for stream headers', () => {
    const header = xml('stream:stream', { xmlns: NS.CLIENT, 'xmlns:stream': NS.STREAMS, version: '1.0' });
    expect(startTag(header)).toBe(
      '<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" version="1.0">',
    );
  });
});

describe('escaping', () => {
  it('escapes the five specials and whitespace that attribute normalization would change', () => {
    expect(escapeXml(`a&b<c>d"e'f\tg\nh\ri`)).toBe('a&amp;b&lt;c&gt;d&quot;e&apos;f&#9;g&#10;h&#13;i');
  });

  it('escapes & < > and CR in text, leaving quotes and newlines', () => {
    expect(escapeText(`a&b<c>d"e'f\ng\r]]>`)).toBe(`a&amp;b&lt;c&gt;d"e'f\ng&#13;]]&gt;`);
  });

  it('replaces characters XML 1.0 cannot carry with U+FFFD, keeping surrogate pairs', () => {
    expect(escapeText('a\u0000b\u001bc\uFFFEd\uD800e😀')).toBe('a\uFFFDb\uFFFDc\uFFFDd\uFFFDe😀');
    expect(escapeXml('\u0003x\uDC00')).toBe('\uFFFDx\uFFFD');
  });

  it('returns the same string when nothing needs escaping', () => {
    const s = 'plain text, ünïcödé 日本 😀';
    expect(escapeText(s)).toBe(s);
    expect(escapeXml(s)).toBe(s);
  });
});

describe('streamErrorElement', () => {
  it('builds a self-contained <stream:error> as in RFC 6120 §4.9.2', () => {
    expect(serialize(streamErrorElement('not-well-formed'))).toBe(
      '<stream:error xmlns:stream="http://etherx.jabber.org/streams">' +
        '<not-well-formed xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>',
    );
  });

  it('adds <text/> with xml:lang and the host of see-other-host (RFC 6120 §4.9.3.19)', () => {
    const el = streamErrorElement('see-other-host', 'moving', {
      lang: 'en',
      host: '[2001:41D0:1:A49b::1]:9222',
    });
    expect(el.getChildText('see-other-host', NS.STREAM_ERRORS)).toBe('[2001:41D0:1:A49b::1]:9222');
    const text = el.getChild('text', NS.STREAM_ERRORS)!;
    expect(text.getText()).toBe('moving');
    expect(text.attr('xml:lang')).toBe('en');
    expect(el.is('error', NS.STREAMS)).toBe(true);
    expect(el).toBeInstanceOf(Element);
  });
});
