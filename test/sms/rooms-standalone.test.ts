// Issue #7, SMS users in rooms, on the standalone: the SMS gateway and our own MUC service
// (services/muc at conference.localhost) in one process on the in-process bus, a real SMPP SMSC
// playing the phones, @xmpp/client playing the XMPP users. The gateway speaks the same plain
// XEP-0045 it speaks to Prosody's MUC (rooms-prosody.test.ts).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deriveCredentials } from '@switchboard/store';
import { build, type Standalone } from '@switchboard/standalone';
import { TestSmsc } from '../../services/sms-gateway/src/providers/test/smsc.js';
import {
  SMS_DOMAIN,
  TLS_CERT,
  TLS_KEY,
  login,
  quietLogger,
  registerVerified,
  smscCodes,
  type User,
} from './harness.js';
import {
  NS_MUC_ADMIN,
  NS_MUC_USER,
  PhoneOutbox,
  enterRoom,
  isGroupchatFrom,
  isPresenceFrom,
  statusCodes,
} from './rooms.js';

const JULIET_NUMBER = '+15550004444';
const PHONE = '+15551234567';
const PHONE_B = '+15557654321';
const ROOM = 'globe@conference.localhost';

describe('SMS users in rooms of our own MUC service, in the standalone', () => {
  const logs: string[] = [];
  let dataDir: string;
  let smsc: TestSmsc;
  let app: Standalone;
  let juliet: User;
  let romeo: User;
  let sms: PhoneOutbox;
  let counter = 0;

  async function text(body: string, phone = PHONE): Promise<void> {
    await smsc.deliver({
      source_addr_ton: 1,
      source_addr: phone.slice(1),
      dest_addr_ton: 1,
      destination_addr: JULIET_NUMBER.slice(1),
      short_message: { message: body },
      user_message_reference: ++counter,
    });
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-sms-rooms-'));
    smsc = await TestSmsc.start();
    sms = new PhoneOutbox(smsc);
    app = build(
      {
        dataDir,
        edge: {
          host: '127.0.0.1',
          ports: { starttls: 0, directTls: 0, http: 0 },
          tls: { keyFile: TLS_KEY, certFile: TLS_CERT },
          sasl: { fakeSaltSecret: 'sms-rooms-standalone-fake-salt-secret' },
        },
        sms: {
          provider: {
            kind: 'smpp',
            host: '127.0.0.1',
            port: smsc.port,
            systemId: smsc.credentials.systemId,
            password: smsc.credentials.password,
          },
          http: { port: 0 },
          rooms: { batchDelayMs: 300, batchSegments: 1 },
        },
      },
      { logger: quietLogger('sms-rooms-standalone', logs) },
    );
    const { tcpPort } = await app.start();
    await app.store.accounts.create('juliet@localhost', await deriveCredentials('juliet-pass'));
    juliet = await login(tcpPort, 'juliet', 'juliet-pass');
    expect((await registerVerified(juliet, JULIET_NUMBER, smscCodes(smsc))).attrs['type']).toBe('result');
    await enterRoom(juliet, ROOM, 'juliet');
    await app.store.accounts.create('romeo@localhost', await deriveCredentials('romeo-pass'));
    romeo = await login(tcpPort, 'romeo', 'romeo-pass');
    await enterRoom(romeo, ROOM, 'romeo');
  }, 40_000);

  afterAll(async () => {
    await juliet?.stop();
    await romeo?.stop();
    await app?.close();
    await smsc?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') console.error(logs.slice(-100).join(''));
  });

  it('joins a phone with /join, relays its texts as groupchat and the room back as "(nick) body"', async () => {
    await text(`/join ${ROOM} player`);
    await juliet.inbox.next(isPresenceFrom(`${ROOM}/player`), "the phone's occupant presence");
    await sms.next(PHONE, `You joined ${ROOM} as player`);
    await text('All the world’s a stage');
    await juliet.inbox.next(isGroupchatFrom(`${ROOM}/player`, 'All the world’s a stage'), 'the groupchat');
    await juliet.send(xml('message', { to: ROOM, type: 'groupchat' }, xml('body', {}, 'And all the men')));
    await sms.next(PHONE, '(juliet) And all the men');
  });

  it('holds one conversation of two XMPP users and two phones: invite, nick change, private messages, kick', async () => {
    // The owner invites a second phone through the room (XEP-0045 §7.8.2); it accepts by replying YES.
    await juliet.send(
      xml(
        'message',
        { to: ROOM },
        xml(
          'x',
          { xmlns: NS_MUC_USER },
          xml('invite', { to: `${PHONE_B}@${SMS_DOMAIN}` }, xml('reason', {}, 'Join us')),
        ),
      ),
    );
    await sms.next(PHONE_B, `You were invited to ${ROOM}`);
    await text('YES', PHONE_B);
    const joined = await sms.next(PHONE_B, `You joined ${ROOM} as `);
    const nickB = /You joined \S+ as ([^.]+)\./.exec(joined.text)?.[1] ?? '';
    expect(nickB).not.toBe('');
    await romeo.inbox.next(isPresenceFrom(`${ROOM}/${nickB}`), "the second phone's occupant presence");

    // The first phone changes its nick: occupants see 303 and the new nick (§7.6).
    await text('/nick hamlet');
    const renamed = await romeo.inbox.next(
      isPresenceFrom(`${ROOM}/player`, 'unavailable'),
      'the nick change',
    );
    expect(statusCodes(renamed)).toContain('303');
    await romeo.inbox.next(isPresenceFrom(`${ROOM}/hamlet`), 'the new nick');

    // Everyone talks: each phone gets the XMPP users' lines, the XMPP users get the phones' texts.
    await romeo.send(xml('message', { to: ROOM, type: 'groupchat' }, xml('body', {}, 'To be')));
    await sms.next(PHONE, '(romeo) To be');
    await sms.next(PHONE_B, '(romeo) To be');
    await text('or not to be', PHONE_B);
    await juliet.inbox.next(isGroupchatFrom(`${ROOM}/${nickB}`, 'or not to be'), "the second phone's text");
    await sms.next(PHONE, `(${nickB}) or not to be`);

    // Private messages both ways between a phone and an XMPP occupant (§7.5).
    await text('/msg romeo a word in private');
    const pm = await romeo.inbox.next(
      (s) =>
        s.is('message') &&
        s.attrs['from'] === `${ROOM}/hamlet` &&
        s.getChildText('body') === 'a word in private',
      'the private message from the phone',
    );
    expect(pm.attrs['type']).not.toBe('groupchat');
    await romeo.send(xml('message', { to: `${ROOM}/hamlet`, type: 'chat' }, xml('body', {}, 'then whisper')));
    await sms.next(PHONE, '(romeo, privately) then whisper');

    // The owner kicks the second phone (§8.2): it is told, and the occupants see 307.
    await juliet.iq(
      xml(
        'iq',
        { type: 'set', to: ROOM },
        xml(
          'query',
          { xmlns: NS_MUC_ADMIN },
          xml('item', { nick: nickB, role: 'none' }, xml('reason', {}, 'Exit, pursued')),
        ),
      ),
    );
    const kicked = await romeo.inbox.next(isPresenceFrom(`${ROOM}/${nickB}`, 'unavailable'), 'the kick');
    expect(statusCodes(kicked)).toContain('307');
    await sms.next(PHONE_B, `You were kicked from ${ROOM}`);
  });

  it('STOP takes the phone out of the room', async () => {
    await text('STOP');
    const gone = await juliet.inbox.next(
      isPresenceFrom(`${ROOM}/hamlet`, 'unavailable'),
      'the phone leaving',
    );
    expect(gone.getChild('x', NS_MUC_USER)).toBeDefined();
  });
});
