import { describe, expect, it } from 'vitest';
import { NS, StreamParser, type Element } from '@switchboard/xml';
import { StanzaError, StanzaStreamViolation } from '../stream/stanza.js';
import { checkComponentStanza, toComponentNamespace } from './stanza.js';

/** Parses stanzas as they arrive on a component stream (default namespace jabber:component:accept). */
function fromComponent(stanza: string): Element {
  const out: Element[] = [];
  const parser = new StreamParser({
    stanza: (el) => out.push(el),
    error: (e) => {
      throw e;
    },
  });
  parser.write(`<stream:stream xmlns='${NS.COMPONENT}' xmlns:stream='${NS.STREAMS}' to='irc.localhost'>`);
  parser.write(stanza);
  return out[0]!;
}

function violation(stanza: string): string {
  try {
    checkComponentStanza(fromComponent(stanza), 'irc.localhost');
  } catch (error) {
    if (error instanceof StanzaStreamViolation) return error.condition;
    if (error instanceof StanzaError) return `stanza:${error.condition}`;
    throw error;
  }
  return 'accepted';
}

describe('checkComponentStanza', () => {
  it('accepts the XEP-0114 §3 example stanza and moves it into jabber:client', () => {
    // XEP-0114 §3, Example 4 (domain replaced with ours).
    const el = fromComponent(
      `<message from='iago@irc.localhost' to='othello@shakespeare.lit'><body>I told him what I thought</body></message>`,
    );
    const checked = checkComponentStanza(el, 'irc.localhost');
    expect(checked.kind).toBe('message');
    expect(checked.from.toString()).toBe('iago@irc.localhost');
    expect(checked.to.toString()).toBe('othello@shakespeare.lit');
    expect(el.is('message', NS.CLIENT)).toBe(true);
  });

  it('accepts the component domain itself and full JIDs at it as from', () => {
    expect(violation(`<presence from='irc.localhost' to='bob@localhost'/>`)).toBe('accepted');
    expect(violation(`<presence from='#chan%irc.example@irc.localhost/nick' to='bob@localhost'/>`)).toBe(
      'accepted',
    );
  });

  it('closes the stream with invalid-from for a missing from or one at another domain', () => {
    expect(violation(`<message to='bob@localhost'/>`)).toBe('invalid-from');
    expect(violation(`<message from='bob@localhost' to='bob@localhost'/>`)).toBe('invalid-from');
    expect(violation(`<message from='a@sub.irc.localhost' to='bob@localhost'/>`)).toBe('invalid-from');
  });

  it('answers a missing or malformed to and a bad iq with stanza errors', () => {
    expect(violation(`<message from='irc.localhost'/>`)).toBe('stanza:bad-request');
    expect(violation(`<message from='irc.localhost' to='@localhost'/>`)).toBe('stanza:jid-malformed');
    expect(violation(`<iq from='irc.localhost' to='localhost' type='get'/>`)).toBe('stanza:bad-request');
    expect(violation(`<message from='irc.localhost' to='localhost' type='shout'/>`)).toBe(
      'stanza:bad-request',
    );
  });

  it('closes the stream for elements that are not stanzas', () => {
    expect(violation(`<handshake>00</handshake>`)).toBe('unsupported-stanza-type');
    expect(violation(`<message xmlns='urn:other' from='irc.localhost' to='localhost'/>`)).toBe(
      'invalid-namespace',
    );
  });
});

describe('toComponentNamespace', () => {
  it('drops the top-level jabber:client namespace only', () => {
    const forwarded =
      '<message xmlns="jabber:client" from="a@localhost/x" to="b@irc.localhost"><forwarded xmlns="urn:xmpp:forward:0"><message xmlns="jabber:client" to="c@localhost"/></forwarded></message>';
    expect(toComponentNamespace(forwarded)).toBe(
      '<message from="a@localhost/x" to="b@irc.localhost"><forwarded xmlns="urn:xmpp:forward:0"><message xmlns="jabber:client" to="c@localhost"/></forwarded></message>',
    );
    expect(toComponentNamespace('<presence to="x@irc.localhost" xmlns="jabber:client"/>')).toBe(
      '<presence to="x@irc.localhost"/>',
    );
  });

  it('leaves stanzas without a top-level namespace as they are', () => {
    const routerMade = '<iq from="localhost" to="irc.localhost" type="result" id="1"/>';
    expect(toComponentNamespace(routerMade)).toBe(routerMade);
  });
});
