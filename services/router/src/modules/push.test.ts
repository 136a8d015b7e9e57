import { afterEach, describe, expect, it } from 'vitest';
import type { Element } from '@switchboard/xml';
import { Harness, conditionOf, type Client } from '../test/harness.js';
import { formFields } from './data-form.js';

const PUSH = 'urn:xmpp:push:0';
const PUBSUB = 'http://jabber.org/protocol/pubsub';
const APP_SERVER = 'nurse@example.com/push';
const NODE = 'yxs32uqsflafdk3iuqo';

let h: Harness;
afterEach(async () => {
  await h.close();
});

// XEP-0357 §5, Example 9: enabling with publish-options.
async function enable(c: Client): Promise<Element> {
  await c.send(
    `<iq type='set' id='x43'><enable xmlns='${PUSH}' jid='${APP_SERVER}' node='${NODE}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>eruio234vzxc2kla-91</value></field></x></enable></iq>`,
  );
  return c.received()[0]!;
}

const pushes = (stanzas: Element[]): Element[] =>
  stanzas.filter((s) => s.name === 'iq' && s.getChild('pubsub', PUBSUB) !== undefined);

describe('push notifications (XEP-0357)', () => {
  it('publishes a summary to the app server when a message finds no session (§6, Example 11)', async () => {
    h = await Harness.start();
    const app = await h.login(APP_SERVER);
    const juliet = await h.login('juliet@example.com/phone');
    expect((await enable(juliet)).attrs['type']).toBe('result');
    await juliet.logout();
    const romeo = await h.login('romeo@example.net/orchard');
    await romeo.send(
      "<message to='juliet@example.com' type='chat' id='m1'><body>Wherefore art thou?</body></message>",
    );
    const [push] = pushes(app.received());
    expect(push!.attrs).toMatchObject({ type: 'set', from: 'juliet@example.com', to: APP_SERVER });
    const publish = push!.getChild('pubsub', PUBSUB)!.getChild('publish')!;
    expect(publish.attrs['node']).toBe(NODE);
    const form = publish.getChild('item')!.getChild('notification', PUSH)!.getChild('x', 'jabber:x:data');
    const fields = formFields(form);
    expect(fields.get('FORM_TYPE')).toEqual(['urn:xmpp:push:summary']);
    expect(fields.get('message-count')).toEqual(['1']);
    expect(fields.get('last-message-sender')).toEqual(['romeo@example.net/orchard']);
    // The body stays on the server unless configured (§7).
    expect(fields.has('last-message-body')).toBe(false);
    const options = formFields(
      push!.getChild('pubsub', PUBSUB)!.getChild('publish-options')!.getChild('x', 'jabber:x:data'),
    );
    expect(options.get('secret')).toEqual(['eruio234vzxc2kla-91']);
    // Nothing without a body.
    await romeo.send(
      "<message to='juliet@example.com' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
    );
    expect(pushes(app.received())).toEqual([]);
  });

  it('does not push while a session takes the message, and stops after disable', async () => {
    h = await Harness.start();
    const app = await h.login(APP_SERVER);
    const juliet = await h.login('juliet@example.com/phone');
    await enable(juliet);
    await juliet.send('<presence/>');
    juliet.received();
    const romeo = await h.login('romeo@example.net/orchard');
    await romeo.send("<message to='juliet@example.com' type='chat'><body>here?</body></message>");
    expect(pushes(app.received())).toEqual([]);
    expect(juliet.received().map((s) => s.getChildText('body'))).toEqual(['here?']);
    await juliet.send(
      `<iq type='set' id='x44'><disable xmlns='${PUSH}' jid='${APP_SERVER}' node='${NODE}'/></iq>`,
    );
    expect(juliet.received()[0]!.attrs['type']).toBe('result');
    await juliet.logout();
    await romeo.send("<message to='juliet@example.com' type='chat'><body>gone?</body></message>");
    expect(pushes(app.received())).toEqual([]);
  });

  it('drops a registration whose app server answers with an error (§8)', async () => {
    h = await Harness.start();
    const app = await h.login(APP_SERVER);
    const juliet = await h.login('juliet@example.com/phone');
    await enable(juliet);
    await juliet.logout();
    const romeo = await h.login('romeo@example.net/orchard');
    await romeo.send("<message to='juliet@example.com' type='chat'><body>one</body></message>");
    const [push] = pushes(app.received());
    await app.send(
      `<iq type='error' id='${push!.attrs['id']}' to='juliet@example.com'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`,
    );
    expect(await h.store.push.list('juliet@example.com')).toEqual([]);
    await romeo.send("<message to='juliet@example.com' type='chat'><body>two</body></message>");
    expect(pushes(app.received())).toEqual([]);
  });

  it('wakes the device whose session is detached (XEP-0198) or inactive (XEP-0352), not an active one', async () => {
    h = await Harness.start();
    const app = await h.login(APP_SERVER);
    const phone = await h.login('juliet@example.com/phone');
    await enable(phone);
    await phone.send('<presence/>');
    phone.received();
    const romeo = await h.login('romeo@example.net/orchard');
    const state = async (type: string): Promise<void> => {
      await h.publish({
        v: 1,
        id: h.nextId(),
        kind: 'session-state',
        edgeId: phone.edgeId,
        sessionId: phone.sessionId,
        from: phone.jid,
        to: '',
        type,
        stanzaId: '',
        xml: '',
        ts: Date.now(),
      });
      await h.settle();
    };
    const chat = async (body: string): Promise<Element[]> => {
      await romeo.send(`<message to='juliet@example.com' type='chat'><body>${body}</body></message>`);
      // Delivered to the session either way: its edge keeps it for the resume.
      expect(phone.received().map((s) => s.getChildText('body'))).toEqual([body]);
      return pushes(app.received());
    };
    expect(await chat('awake')).toEqual([]);
    await state('detached');
    const [woken] = await chat('asleep');
    expect(
      formFields(
        woken!
          .getChild('pubsub', PUBSUB)!
          .getChild('publish')!
          .getChild('item')!
          .getChild('notification', PUSH)!
          .getChild('x', 'jabber:x:data'),
      ).get('message-count'),
    ).toEqual(['1']);
    await state('resumed');
    expect(await chat('back')).toEqual([]);
    await state('inactive');
    expect(await chat('in the pocket')).toHaveLength(1);
    // Another device, active, does not wake the phone's app server when the phone is active.
    await state('active');
    const desktop = await h.login('juliet@example.com/desktop');
    await desktop.send('<presence/>');
    desktop.received();
    phone.received();
    await romeo.send(
      "<message to='juliet@example.com/desktop' type='chat'><body>to the desk</body></message>",
    );
    expect(pushes(app.received())).toEqual([]);
  });

  it('refuses enable without a node and from anyone but the owner', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/phone');
    await juliet.send(`<iq type='set' id='e1'><enable xmlns='${PUSH}' jid='push.example.com'/></iq>`);
    expect(conditionOf(juliet.received()[0]!)).toBe('bad-request');
    const romeo = await h.login('romeo@example.net/orchard');
    await romeo.send(
      `<iq type='set' id='e2' to='juliet@example.com'><enable xmlns='${PUSH}' jid='push.example.com' node='n'/></iq>`,
    );
    expect(conditionOf(romeo.received()[0]!)).toBe('forbidden');
  });
});
