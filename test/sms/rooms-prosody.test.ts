// Issue #7, SMS users in rooms, against Prosody 0.12 from Debian and its own MUC component
// (`Component "conference.localhost" "muc"`): the gateway is a XEP-0114 component of that Prosody
// and speaks plain XEP-0045 to a room service it knows nothing else about. Phones are played by a
// real SMPP SMSC; XMPP users by @xmpp/client.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastify from 'fastify';
import { xml } from '@xmpp/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_KEYWORD_REPLIES } from '../../services/sms-gateway/src/core/keywords.js';
import { createSmppProvider } from '../../services/sms-gateway/src/providers/smpp.js';
import { TestSmsc } from '../../services/sms-gateway/src/providers/test/smsc.js';
import { openSqliteRoomMemberships } from '../../services/sms-gateway/src/rooms/sqlite.js';
import { componentTransport } from '../../services/sms-gateway/src/transports/index.js';
import {
  SMS_DOMAIN,
  isChatFrom,
  login,
  quietLogger,
  registerVerified,
  smscCodes,
  startGateway,
  type Gateway,
  type User,
} from './harness.js';
import { startProsody, type Prosody } from '../support/prosody.js';
import {
  NS_MUC_ADMIN,
  NS_MUC_USER,
  NS_MUC_OWNER,
  PhoneOutbox,
  configureRoom,
  enterRoom,
  isGroupchatFrom,
  isPresenceFrom,
  observed,
  statusCodes,
} from './rooms.js';

const SECRET = 'rooms-prosody-secret';
const MUC = 'conference.localhost';
const COVEN = `coven@${MUC}`;
const HEATH = `heath@${MUC}`;
const CAULDRON = `cauldron@${MUC}`;
const GATE = `gate@${MUC}`;
const JULIET_NUMBER = '+15550002222';
const WITCH = '+15551234567';
const BANQUO = '+15557654321';

describe('SMS users in rooms of Prosody’s own MUC (plain XEP-0045 through the gateway)', () => {
  const logs: string[] = [];
  let prosody: Prosody | undefined;
  let smsc: TestSmsc;
  let dataDir: string;
  let gateway: Gateway;
  let transport: ReturnType<typeof observed>;
  let juliet: User;
  let romeo: User;
  let sms: PhoneOutbox;
  const http = fastify();
  let counter = 0;

  /** A text from `phone` to Juliet's number, as the SMSC delivers it (SMPP 3.4 §4.6.1). */
  async function text(phone: string, body: string): Promise<void> {
    const resp = await smsc.deliver({
      source_addr_ton: 1,
      source_addr_npi: 1,
      source_addr: phone.slice(1),
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: JULIET_NUMBER.slice(1),
      short_message: { message: body },
      // Keeps otherwise identical texts apart in the gateway's idempotency keys.
      user_message_reference: ++counter,
    });
    expect(resp.command_status).toBe(0);
  }

  async function startTheGateway(): Promise<void> {
    const logger = quietLogger('sms-rooms-gateway', logs);
    const component = componentTransport({
      service: `xmpp://127.0.0.1:${prosody!.componentPort}`,
      domain: SMS_DOMAIN,
      secret: SECRET,
      logger,
    });
    transport = observed(component);
    gateway = await startGateway({
      transport,
      provider: createSmppProvider({
        host: '127.0.0.1',
        port: smsc.port,
        systemId: smsc.credentials.systemId,
        password: smsc.credentials.password,
        maxSegments: 3,
      }),
      http,
      logger,
      dataFile: join(dataDir, 'sms-gateway.db'),
      // One segment per SMS keeps every SMS readable on its own; lines wait up to 1 s for company.
      rooms: { batchDelayMs: 1000, batchSegments: 1, announce: false },
    });
    await component.online();
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sms-rooms-'));
    prosody = await startProsody({
      domain: 'localhost',
      component: { domain: SMS_DOMAIN, secret: SECRET },
      users: { juliet: 'juliet-pass', romeo: 'romeo-pass' },
      muc: MUC,
    });
    smsc = await TestSmsc.start();
    sms = new PhoneOutbox(smsc);
    await startTheGateway();
    juliet = await login(prosody.c2sPort, 'juliet', 'juliet-pass');
    romeo = await login(prosody.c2sPort, 'romeo', 'romeo-pass');
    expect((await registerVerified(juliet, JULIET_NUMBER, smscCodes(smsc))).attrs['type']).toBe('result');
    await enterRoom(juliet, COVEN, 'juliet');
    await enterRoom(romeo, COVEN, 'romeo');
  }, 40_000);

  afterAll(async () => {
    await juliet?.stop();
    await romeo?.stop();
    await gateway?.stop();
    await smsc?.close();
    await prosody?.stop();
    await http.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') console.error(`${logs.join('')}\n${prosody?.diagnostics() ?? ''}`);
  });

  it('joins a phone to a room with /join: occupants see its presence, the phone gets who is there', async () => {
    await text(WITCH, `/join ${COVEN} witch`);
    const presence = await romeo.inbox.next(
      isPresenceFrom(`${COVEN}/witch`),
      "the phone's occupant presence",
    );
    expect(presence.getChild('x', NS_MUC_USER)?.getChild('item')?.attrs['role']).toBe('participant');
    const joined = await sms.next(WITCH, `You joined ${COVEN} as witch`);
    // The phone's room traffic comes from the number it texted (Juliet's).
    expect(joined.from).toBe(JULIET_NUMBER);
    expect(joined.text).toContain('juliet, romeo');
  });

  it("turns the phone's texts into groupchat messages under its nick", async () => {
    await text(WITCH, 'Fair is foul, and foul is fair');
    const message = await romeo.inbox.next(
      isGroupchatFrom(`${COVEN}/witch`, 'Fair is foul, and foul is fair'),
      'the groupchat from the phone',
    );
    expect(message.attrs['to']).toMatch(/^romeo@localhost/);
  });

  it('sends room messages to the phone as "(nick) body", several lines in one SMS, none lost', async () => {
    // Each message is in the room (reflected) before the next is sent, so the room's order is known.
    for (const [user, nick, body] of [
      [romeo, 'romeo', 'When shall we meet?'],
      [juliet, 'juliet', 'In thunder'],
      [romeo, 'romeo', 'or in rain?'],
    ] as const) {
      await user.send(xml('message', { to: COVEN, type: 'groupchat' }, xml('body', {}, body)));
      await romeo.inbox.next(isGroupchatFrom(`${COVEN}/${nick}`, body), `"${body}" in the room`);
    }
    const batch = await sms.next(WITCH, '(romeo) When shall we meet?');
    const lines = [batch.text];
    while (!lines.join('\n').includes('(romeo) or in rain?')) lines.push((await sms.next(WITCH, '(')).text);
    expect(lines.join('\n').split('\n')).toEqual([
      '(romeo) When shall we meet?',
      '(juliet) In thunder',
      '(romeo) or in rain?',
    ]);
    // Three lines sent together share an SMS: fewer SMS than lines.
    expect(lines.length).toBeLessThan(3);
    // The phone's own message, reflected by the room, never came back to it.
    expect(sms.all(WITCH).some((t) => t.includes('Fair is foul'))).toBe(false);
  });

  it('answers /who with the occupant list', async () => {
    await text(WITCH, '/who');
    const who = await sms.next(WITCH, 'you (witch)');
    expect(who.text).toContain(COVEN);
    expect(who.text).toContain('juliet (mod)');
    expect(who.text).toContain('romeo');
  });

  it('changes the nick with /nick: the room announces 303 and the phone is told', async () => {
    await text(WITCH, '/nick hag');
    const gone = await romeo.inbox.next(isPresenceFrom(`${COVEN}/witch`, 'unavailable'), 'the nick change');
    expect(statusCodes(gone)).toContain('303');
    expect(gone.getChild('x', NS_MUC_USER)?.getChild('item')?.attrs['nick']).toBe('hag');
    await romeo.inbox.next(isPresenceFrom(`${COVEN}/hag`), 'the presence under the new nick');
    await sms.next(WITCH, `You are now hag in ${COVEN}`);
    await text(WITCH, 'By the pricking of my thumbs');
    await romeo.inbox.next(isGroupchatFrom(`${COVEN}/hag`, 'By the pricking of my thumbs'), 'text as hag');
  });

  it('tells a phone whose nick is taken, and /nick then joins it under another', async () => {
    await text(BANQUO, `/join ${COVEN} romeo`);
    const refused = await sms.next(BANQUO, 'The nick romeo is taken');
    expect(refused.text).toContain('/nick');
    await text(BANQUO, '/nick banquo');
    await romeo.inbox.next(isPresenceFrom(`${COVEN}/banquo`), 'banquo in the room');
    await sms.next(BANQUO, `You joined ${COVEN} as banquo`);
  });

  it('sends /msg as a XEP-0045 private message, and private messages reach the phone marked as such', async () => {
    await text(WITCH, '/msg romeo Something wicked this way comes');
    const pm = await romeo.inbox.next(
      (s) => s.is('message') && s.attrs['type'] === 'chat' && s.attrs['from'] === `${COVEN}/hag`,
      'the private message',
    );
    expect(pm.getChildText('body')).toBe('Something wicked this way comes');

    await romeo.send(xml('message', { to: `${COVEN}/hag`, type: 'chat' }, xml('body', {}, 'Open, locks')));
    await sms.next(WITCH, '(romeo, privately) Open, locks');
  });

  it('relays a mediated invitation; YES joins the invited room', async () => {
    await enterRoom(juliet, HEATH, 'juliet');
    // XEP-0045 §7.8.2.
    await juliet.send(
      xml(
        'message',
        { to: HEATH },
        xml(
          'x',
          { xmlns: NS_MUC_USER },
          xml('invite', { to: `${BANQUO}@${SMS_DOMAIN}` }, xml('reason', {}, 'Hail!')),
        ),
      ),
    );
    const invitation = await sms.next(BANQUO, `You were invited to ${HEATH}`);
    // Prosody names the inviter by occupant JID; the phone is told the nick.
    expect(invitation.text).toContain('by juliet');
    expect(invitation.text).toContain('YES');
    expect(invitation.from).toBe(JULIET_NUMBER);
    await text(BANQUO, 'yes');
    await juliet.inbox.next(
      isPresenceFrom(`${HEATH}/banquo`),
      'banquo in heath under the nick of its latest room',
    );
    await sms.next(BANQUO, `You joined ${HEATH} as banquo`);
  });

  it('relays a XEP-0249 direct invitation; /join joins, and plain texts then go to the newest room', async () => {
    await juliet.send(
      xml(
        'message',
        { to: `${WITCH}@${SMS_DOMAIN}` },
        xml('x', { xmlns: 'jabber:x:conference', jid: HEATH }),
      ),
    );
    await sms.next(WITCH, `You were invited to ${HEATH}`);
    await text(WITCH, '/join');
    await juliet.inbox.next(isPresenceFrom(`${HEATH}/hag`), 'the witch in heath under her current nick');
    await sms.next(WITCH, `You joined ${HEATH} as hag`);
    await text(WITCH, 'Upon the heath');
    await juliet.inbox.next(isGroupchatFrom(`${HEATH}/hag`, 'Upon the heath'), 'the text in heath');
    // With two rooms on one number, each line names its room.
    await romeo.send(xml('message', { to: COVEN, type: 'groupchat' }, xml('body', {}, 'Still here')));
    await sms.next(WITCH, 'coven: (romeo) Still here');
  });

  it('STOP takes the phone out of every room, with unavailable presence to each', async () => {
    await text(BANQUO, 'STOP');
    await romeo.inbox.next(isPresenceFrom(`${COVEN}/banquo`, 'unavailable'), 'banquo leaving coven');
    await juliet.inbox.next(isPresenceFrom(`${HEATH}/banquo`, 'unavailable'), 'banquo leaving heath');
    await sms.next(BANQUO, DEFAULT_KEYWORD_REPLIES.stop);
    const memberships = openSqliteRoomMemberships({ path: join(dataDir, 'sms-gateway.db') });
    expect(await memberships.byPhone(BANQUO)).toEqual([]);
    expect((await memberships.byPhone(WITCH)).map((m) => m.room).sort()).toEqual([COVEN, HEATH]);
    await memberships.close();
    // Room traffic no longer reaches the opted-out phone.
    const before = sms.all(BANQUO).length;
    await juliet.send(xml('message', { to: HEATH, type: 'groupchat' }, xml('body', {}, 'Banquo?')));
    await sms.next(WITCH, '(juliet) Banquo?');
    expect(sms.all(BANQUO)).toHaveLength(before);
  });

  it('rejoins its rooms after a restart and goes on bridging', async () => {
    await gateway.stop();
    await startTheGateway();
    // XEP-0045 §7.2.3: the rooms answer the rejoin with the self-presence (110).
    for (const room of [COVEN, HEATH]) {
      await transport.received.waitFor(
        (el) =>
          el.name === 'presence' &&
          el.attrs['from'] === `${room}/hag` &&
          el.attrs['type'] === undefined &&
          (el.getChild('x', NS_MUC_USER)?.getChildren('status') ?? []).some((s) => s.attrs['code'] === '110'),
        `the rejoin of ${room}`,
        10_000,
      );
    }
    await text(WITCH, '/who coven');
    const who = await sms.next(WITCH, 'you (hag)');
    expect(who.text).toContain('romeo');
    await romeo.send(xml('message', { to: COVEN, type: 'groupchat' }, xml('body', {}, 'After the restart')));
    await sms.next(WITCH, '(romeo) After the restart');
  });

  it('tells a kicked phone why (307), and /leave of the last room returns its texts to 1:1', async () => {
    // XEP-0045 §8.2: a moderator kicks by setting the role to none.
    await juliet.iq(
      xml(
        'iq',
        { type: 'set', to: COVEN },
        xml(
          'query',
          { xmlns: NS_MUC_ADMIN },
          xml('item', { nick: 'hag', role: 'none' }, xml('reason', {}, 'Avaunt')),
        ),
      ),
    );
    const kicked = await sms.next(WITCH, `You were kicked from ${COVEN}`);
    expect(kicked.text).toContain('Avaunt');
    await text(WITCH, '/leave');
    await juliet.inbox.next(isPresenceFrom(`${HEATH}/hag`, 'unavailable'), 'the witch leaving heath');
    await sms.next(WITCH, `You left ${HEATH}`);
    await text(WITCH, 'Just for Juliet');
    const chat = await juliet.inbox.next(isChatFrom(`${WITCH}@${SMS_DOMAIN}`), 'the 1:1 text');
    expect(chat.getChildText('body')).toBe('Just for Juliet');
  });

  it('explains a members-only room and a password-protected one; an invitation carries the password', async () => {
    await enterRoom(juliet, CAULDRON, 'juliet');
    await configureRoom(juliet, CAULDRON, { 'muc#roomconfig_membersonly': '1' });
    await text(WITCH, `/join ${CAULDRON} hag`);
    await sms.next(WITCH, `${CAULDRON} is members-only`);

    await enterRoom(juliet, GATE, 'juliet');
    await configureRoom(juliet, GATE, { 'muc#roomconfig_roomsecret': 'knock' });
    await text(WITCH, `/join ${GATE} hag`);
    await sms.next(WITCH, `${GATE} is password-protected`);

    // XEP-0045 §7.8.2: a mediated invitation to a password-protected room carries the password.
    await juliet.send(
      xml(
        'message',
        { to: GATE },
        xml('x', { xmlns: NS_MUC_USER }, xml('invite', { to: `${WITCH}@${SMS_DOMAIN}` })),
      ),
    );
    await sms.next(WITCH, `You were invited to ${GATE}`);
    await text(WITCH, 'YES');
    // In no room any more, the phone gets the nick derived from its number.
    await juliet.inbox.next(isPresenceFrom(`${GATE}/sms-4567`), 'the witch in the password-protected room');
    await sms.next(WITCH, `You joined ${GATE} as sms-4567`);
  });

  it('tells a banned phone (301), and why it cannot come back (forbidden)', async () => {
    // XEP-0045 §9.1: a ban is the outcast affiliation of the bare JID.
    await juliet.iq(
      xml(
        'iq',
        { type: 'set', to: GATE },
        xml(
          'query',
          { xmlns: NS_MUC_ADMIN },
          xml('item', { jid: `${WITCH}@${SMS_DOMAIN}`, affiliation: 'outcast' }),
        ),
      ),
    );
    await sms.next(WITCH, `You were banned from ${GATE}`);
    await text(WITCH, `/join ${GATE} hag`);
    await sms.next(WITCH, `You are banned from ${GATE}`);
  });

  it('tells the phone when a room it is in is destroyed, with the alternate venue', async () => {
    await text(WITCH, `/join ${HEATH} hag`);
    await sms.next(WITCH, `You joined ${HEATH} as hag`);
    // XEP-0045 §10.9.
    await juliet.iq(
      xml(
        'iq',
        { type: 'set', to: HEATH },
        xml(
          'query',
          { xmlns: NS_MUC_OWNER },
          xml('destroy', { jid: COVEN }, xml('reason', {}, 'Gone to the coven')),
        ),
      ),
    );
    const closed = await sms.next(WITCH, `${HEATH} was closed`);
    expect(closed.text).toContain(`/join ${COVEN}`);
  });
});
