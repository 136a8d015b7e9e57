import { encodeEnvelope } from '@switchboard/protocol';
import { parseElement } from '@switchboard/xml';
import { afterEach, describe, expect, it } from 'vitest';
import { StanzaError, errorReply } from './stanza-error.js';
import { Harness } from './test/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('the pipeline', () => {
  it('answers a ping to the server with an empty result (XEP-0199 §4.2)', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send("<iq to='example.com' id='c2s1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>");
    const [reply, ...rest] = juliet.received();
    expect(rest).toHaveLength(0);
    expect(reply!.attrs).toMatchObject({
      type: 'result',
      id: 'c2s1',
      from: 'example.com',
      to: 'juliet@example.com/balcony',
    });
    expect(reply!.children).toHaveLength(0);
  });

  it('routes a message between online users from the envelope alone, never parsing its XML', async () => {
    h = await Harness.start();
    const romeo = await h.login('romeo@example.net/orchard');
    await romeo.send('<presence/>');
    romeo.received();
    // The payload is deliberately not XML: routing must not need it.
    const opaque = 'opaque payload: the router must not parse this';
    await h.publish({
      v: 1,
      id: 'fast-1',
      kind: 'message',
      edgeId: 'edge1',
      sessionId: 's-j',
      from: 'juliet@example.com/balcony',
      to: 'romeo@example.net',
      type: 'chat',
      stanzaId: 'x',
      xml: opaque,
      ts: 1,
    });
    await h.settle();
    expect(romeo.deliveries()).toEqual([
      {
        v: 1,
        kind: 'stanza',
        id: 'fast-1',
        sessionId: romeo.sessionId,
        to: 'romeo@example.net/orchard',
        xml: opaque,
        ts: 1,
      },
    ]);
  });

  it('treats a message without to as addressed to the sender’s bare JID (RFC 6120 §10.3.1)', async () => {
    h = await Harness.start();
    const balcony = await h.login('juliet@example.com/balcony');
    const chamber = await h.login('juliet@example.com/chamber');
    await chamber.send('<presence/>');
    chamber.received();
    balcony.received();
    await balcony.send("<message type='chat'><body>note to self</body></message>");
    expect(chamber.received().map((el) => el.getChildText('body'))).toEqual(['note to self']);
  });

  it('drops an entry that is not an envelope and goes on with the rest of the batch', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    await h.bus.publishBatch([
      { stream: 'route:{0}', payload: 'not json' },
      {
        stream: 'route:{0}',
        payload: encodeEnvelope({
          v: 1,
          id: 'after-garbage',
          kind: 'iq',
          edgeId: 'edge1',
          sessionId: juliet.sessionId,
          from: juliet.jid,
          to: 'example.com',
          type: 'get',
          stanzaId: 'p1',
          xml: "<iq from='juliet@example.com/balcony' to='example.com' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>",
          ts: 1,
        }),
      },
    ]);
    await h.settle();
    expect(juliet.received().map((el) => el.attrs['id'])).toEqual(['p1']);
  });
});

describe('stanza errors', () => {
  it('map to RFC 6120 §8.3 XML in one place, with the default type of each condition', () => {
    const original = parseElement(
      "<message from='a@example.com/r' to='b@example.com' id='m' type='chat'><body>x</body></message>",
    );
    const reply = errorReply(
      original,
      new StanzaError('service-unavailable', undefined, 'offline storage is full'),
    );
    expect(reply.toString()).toBe(
      '<message from="b@example.com" to="a@example.com/r" type="error" id="m"><body>x</body><error type="cancel">' +
        '<service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>' +
        '<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">offline storage is full</text></error></message>',
    );
    expect(new StanzaError('bad-request').type).toBe('modify');
    expect(new StanzaError('forbidden').type).toBe('auth');
    expect(new StanzaError('resource-constraint').type).toBe('wait');
  });

  it('leave the payload out of IQ errors', () => {
    const iq = parseElement(
      "<iq from='a@example.com/r' to='example.com' id='i' type='get'><query xmlns='urn:x'/></iq>",
    );
    expect(
      errorReply(iq, new StanzaError('feature-not-implemented'))
        .getChildElements()
        .map((c) => c.name),
    ).toEqual(['error']);
  });
});
