import { describe, expect, it } from 'vitest';
import { parseJid } from '@switchboard/jid';
import { NS, parseElement } from '@switchboard/xml';
import { StanzaError, StanzaStreamViolation, checkClientStanza, stanzaErrorReply } from './stanza.js';
import { withClientNamespace } from './websocket-transport.js';

const session = parseJid('juliet@example.com/balcony');
const parse = (s: string) => parseElement(s, { defaultNamespace: NS.CLIENT });

describe('checkClientStanza (RFC 6120 §8)', () => {
  it('stamps the full JID and reports the routing facts (RFC 6120 §8.1.2.1)', () => {
    // RFC 6120 §8.2.1-style message without 'from'.
    const el = parse(
      `<message to='romeo@example.net' type='chat' id='ktx72v49'><body>Art thou not Romeo?</body></message>`,
    );
    const facts = checkClientStanza(el, session);
    expect(facts).toMatchObject({ kind: 'message', to: 'romeo@example.net', type: 'chat', id: 'ktx72v49' });
    expect(el.attrs['from']).toBe('juliet@example.com/balcony');
  });

  it('normalizes the address in the routing facts', () => {
    const facts = checkClientStanza(parse(`<message to='Romeo@EXAMPLE.net'/>`), session);
    expect(facts.to).toBe('romeo@example.net');
  });

  it('refuses another entity in from with invalid-from', () => {
    const el = parse(`<message from='romeo@example.net' to='x@example.com'/>`);
    let caught: unknown;
    try {
      checkClientStanza(el, session);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(StanzaStreamViolation);
    expect((caught as StanzaStreamViolation).condition).toBe('invalid-from');
  });

  it('refuses unknown top-level elements with unsupported-stanza-type', () => {
    expect(() => checkClientStanza(parse(`<foo xmlns='jabber:client'/>`), session)).toThrow(
      StanzaStreamViolation,
    );
  });

  it('answers bad addresses, types and iq shapes with stanza errors', () => {
    const condition = (xml: string): string => {
      try {
        checkClientStanza(parse(xml), session);
        return 'accepted';
      } catch (error) {
        return error instanceof StanzaError ? error.condition : String(error);
      }
    };
    expect(condition(`<message to='a@@b'/>`)).toBe('jid-malformed');
    expect(condition(`<message type='shout'/>`)).toBe('bad-request');
    expect(condition(`<presence type='online'/>`)).toBe('bad-request');
    expect(condition(`<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`)).toBe('bad-request');
    expect(condition(`<iq id='1'><ping xmlns='urn:xmpp:ping'/></iq>`)).toBe('bad-request');
    expect(condition(`<iq id='1' type='get'/>`)).toBe('bad-request');
    expect(condition(`<iq id='1' type='result'/>`)).toBe('accepted');
    expect(condition(`<presence/>`)).toBe('accepted');
  });

  it('builds an error reply addressed back to the sender, and none for an error stanza', () => {
    const stanza = parse(`<iq to='example.com' id='x1' type='get'><query xmlns='urn:x'/></iq>`);
    const reply = stanzaErrorReply(stanza, new StanzaError('bad-request'), session.toString());
    expect(reply?.attrs).toMatchObject({
      type: 'error',
      id: 'x1',
      from: 'example.com',
      to: session.toString(),
    });
    expect(reply?.getChild('error')?.attrs['type']).toBe('modify');
    expect(
      stanzaErrorReply(parse(`<message type='error'/>`), new StanzaError('bad-request'), null),
    ).toBeNull();
  });
});

describe('withClientNamespace (RFC 7395 §3.3.3)', () => {
  it('declares jabber:client on a frame that relies on the stream default', () => {
    expect(withClientNamespace('<message to="a@b"><body>x</body></message>')).toBe(
      '<message xmlns="jabber:client" to="a@b"><body>x</body></message>',
    );
    expect(withClientNamespace('<presence/>')).toBe('<presence xmlns="jabber:client"/>');
  });

  it('leaves a frame that declares its namespace alone', () => {
    const frame = '<message xmlns="jabber:client" to="a@b"/>';
    expect(withClientNamespace(frame)).toBe(frame);
  });
});
