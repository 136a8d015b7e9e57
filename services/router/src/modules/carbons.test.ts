import { afterEach, describe, expect, it } from 'vitest';
import type { Element } from '@switchboard/xml';
import { Harness, type Client } from '../test/harness.js';

const CARBONS = 'urn:xmpp:carbons:2';
const FORWARD = 'urn:xmpp:forward:0';

let h: Harness;
afterEach(async () => {
  await h.close();
});

async function online(c: Client, priority: number): Promise<void> {
  await c.send(`<presence><priority>${priority}</priority></presence>`);
  c.received();
}

// XEP-0280 §4, Example 3.
async function enable(c: Client): Promise<Element> {
  await c.send(`<iq id='enable1' type='set'><enable xmlns='${CARBONS}'/></iq>`);
  const [reply] = c.received().filter((s) => s.attrs['id'] === 'enable1');
  return reply!;
}

/** The message a carbon copy forwards, and its direction. */
function carbon(el: Element): { direction: string; inner: Element } | undefined {
  for (const direction of ['sent', 'received']) {
    const inner = el.getChild(direction, CARBONS)?.getChild('forwarded', FORWARD)?.getChild('message');
    if (inner !== undefined) return { direction, inner };
  }
  return undefined;
}

describe('message carbons (XEP-0280)', () => {
  async function cast() {
    h = await Harness.start();
    const romeo = await h.login('romeo@example.net/orchard');
    const balcony = await h.login('juliet@example.com/balcony');
    const chamber = await h.login('juliet@example.com/chamber');
    await online(romeo, 0);
    await online(balcony, 1);
    await online(chamber, 0);
    balcony.received();
    return { romeo, balcony, chamber };
  }

  it('answers enable with an empty result and is announced by the server', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony');
    const reply = await enable(juliet);
    expect(reply.attrs).toMatchObject({ type: 'result', id: 'enable1' });
    expect(h.routers[0]!.features).toContain(CARBONS);
  });

  it('copies a message that went to another resource as <received/> (§6, Example 12)', async () => {
    const { romeo, balcony, chamber } = await cast();
    await enable(chamber);
    await romeo.send(
      "<message to='juliet@example.com' type='chat' id='msg1'><body>Wherefore art thou, Romeo?</body><thread>0e3141cd80894871a68e6fe6b1ec56fa</thread></message>",
    );
    const [direct] = balcony.received();
    expect(direct?.attrs['id']).toBe('msg1');
    const [copy] = chamber.received();
    expect(copy!.attrs).toMatchObject({
      from: 'juliet@example.com',
      to: 'juliet@example.com/chamber',
      type: 'chat',
    });
    const c = carbon(copy!);
    expect(c?.direction).toBe('received');
    expect(c!.inner.attrs).toMatchObject({
      from: 'romeo@example.net/orchard',
      to: 'juliet@example.com',
      id: 'msg1',
    });
    expect(c!.inner.getNS()).toBe('jabber:client');
    expect(c!.inner.getChildText('body')).toBe('Wherefore art thou, Romeo?');
  });

  it('copies what one resource sends to the others as <sent/> (§6, Example 13)', async () => {
    const { romeo, balcony, chamber } = await cast();
    await enable(balcony);
    await enable(chamber);
    await balcony.send(
      "<message to='romeo@example.net/orchard' type='chat' id='msg2'><body>Neither, fair saint, if either thee dislike.</body></message>",
    );
    expect(romeo.received().map((s) => s.attrs['id'])).toEqual(['msg2']);
    expect(balcony.received()).toEqual([]);
    const [copy] = chamber.received();
    const c = carbon(copy!);
    expect(c?.direction).toBe('sent');
    expect(c!.inner.attrs).toMatchObject({
      from: 'juliet@example.com/balcony',
      to: 'romeo@example.net/orchard',
    });
  });

  it('leaves out sessions that did not enable or disabled carbons, and private, no-copy, groupchat, headline and body-less normal messages', async () => {
    const { romeo, balcony, chamber } = await cast();
    await romeo.send("<message to='juliet@example.com' type='chat' id='m0'><body>a</body></message>");
    expect(chamber.received()).toEqual([]);
    await enable(chamber);
    for (const stanza of [
      `<message to='juliet@example.com' type='chat' id='p'><body>x</body><private xmlns='${CARBONS}'/></message>`,
      "<message to='juliet@example.com' type='chat' id='n'><body>x</body><no-copy xmlns='urn:xmpp:hints'/></message>",
      "<message to='juliet@example.com/balcony' type='groupchat' id='g'><body>x</body></message>",
      "<message to='juliet@example.com' type='headline' id='h'><body>x</body></message>",
      "<message to='juliet@example.com' id='e'><subject>x</subject></message>",
    ]) {
      await romeo.send(stanza);
    }
    expect(chamber.received().filter((s) => carbon(s) !== undefined)).toEqual([]);
    // A receipt without a body is IM traffic and is copied (§6.1).
    await romeo.send(
      "<message to='juliet@example.com/balcony' id='r'><received xmlns='urn:xmpp:receipts' id='msg1'/></message>",
    );
    expect(chamber.received().map((s) => carbon(s)?.inner.attrs['id'])).toEqual(['r']);
    await chamber.send(`<iq id='disable1' type='set'><disable xmlns='${CARBONS}'/></iq>`);
    chamber.received();
    await romeo.send("<message to='juliet@example.com' type='chat' id='m1'><body>b</body></message>");
    expect(chamber.received()).toEqual([]);
    balcony.received();
  });

  it('starts disabled in a new session that takes over the resource (§4)', async () => {
    const { romeo, chamber } = await cast();
    await enable(chamber);
    await chamber.logout();
    const again = await h.login('juliet@example.com/chamber');
    await online(again, 0);
    await romeo.send("<message to='juliet@example.com' type='chat' id='m2'><body>b</body></message>");
    expect(again.received()).toEqual([]);
  });
});
