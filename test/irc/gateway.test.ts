// Issue #10 end to end: an @xmpp/client user of embedded Switchboard in an IRC channel of a real
// ngircd (Debian) through the IRC gateway on the in-process bus, with a plain IRC client
// (irc-framework) in the same channel.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IrcGatewayApp } from '../../services/irc-gateway/src/app.js';
import type { Memberships } from '../../services/irc-gateway/src/persistence/memberships.js';
import { IrcPeer } from '../../services/irc-gateway/src/irc/test/irc-peer.js';
import { startNgircd, type Ngircd } from '../../services/irc-gateway/src/irc/test/ngircd.js';
import {
  IRC_DOMAIN,
  NS_MUC_USER,
  errorCondition,
  isGroupchatFrom,
  isPresenceFrom,
  item,
  joinPresence,
  login,
  openMemberships,
  quietLogger,
  startGateway,
  startSwitchboard,
  statusCodes,
  type Switchboard,
  type User,
} from './harness.js';

const ROOM = `#test%127.0.0.1@${IRC_DOMAIN}`;
const occupant = (nick: string): string => `${ROOM}/${nick}`;

/** A TCP port with nothing listening on it. */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as { port: number };
      server.close(() => resolve(address.port));
    });
  });
}

describe('IRC gateway against ngircd, through embedded Switchboard', () => {
  const logs: string[] = [];
  let ngircd: Ngircd;
  let switchboard: Switchboard;
  let dataDir: string;
  let memberships: Memberships;
  let gateway: IrcGatewayApp;
  let juliet: User;
  let nurse: User;
  let romeo: IrcPeer;
  let benvolio: IrcPeer;
  let unreachablePort: number;

  const start = async (): Promise<IrcGatewayApp> =>
    startGateway({
      ircPort: ngircd.port,
      memberships,
      bus: switchboard.app.bus,
      logger: quietLogger('irc-gateway', logs),
      unreachablePort,
    });

  beforeAll(async () => {
    [ngircd, switchboard, dataDir, unreachablePort] = await Promise.all([
      startNgircd(),
      startSwitchboard(logs),
      mkdtemp(join(tmpdir(), 'irc-gateway-')),
      closedPort(),
    ]);
    memberships = openMemberships(join(dataDir, 'irc-gateway.db'));
    gateway = await start();
    await switchboard.createAccount('juliet', 'juliet-pass');
    await switchboard.createAccount('nurse', 'nurse-pass');
    [juliet, nurse, romeo, benvolio] = await Promise.all([
      login(switchboard.tcpPort, 'juliet', 'juliet-pass'),
      login(switchboard.tcpPort, 'nurse', 'nurse-pass'),
      IrcPeer.connect(ngircd.port, 'romeo'),
      // Never in #test: someone to invite and to ban.
      IrcPeer.connect(ngircd.port, 'benvolio'),
    ]);
    // Romeo creates the channel and so is its operator.
    romeo.raw('JOIN #test');
    await romeo.next('userlist', (e) => e.channel === '#test');
  }, 60_000);

  afterAll(async () => {
    await Promise.all([romeo?.quit(), benvolio?.quit()]);
    await Promise.all([juliet?.stop(), nurse?.stop()]);
    await gateway?.stop();
    await switchboard?.stop();
    await memberships?.close();
    await ngircd?.stop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') console.error(`${logs.slice(-80).join('')}\n${ngircd?.log() ?? ''}`);
  });

  it('joins: the occupants from NAMES, then self-presence with 110, then the subject (XEP-0045 §7.2)', async () => {
    await juliet.send(joinPresence(occupant('juliet'), 'join-1'));
    const other = await juliet.inbox.next(isPresenceFrom(occupant('romeo')), 'romeo as an occupant', 20_000);
    // A channel operator is a moderator.
    expect(item(other)).toMatchObject({ role: 'moderator', affiliation: 'admin' });
    const self = await juliet.inbox.next(isPresenceFrom(occupant('juliet')), 'self-presence');
    expect(statusCodes(self)).toContain('110');
    expect(item(self)).toMatchObject({ role: 'participant' });
    const subject = await juliet.inbox.next(
      (s) => s.is('message') && s.getChild('subject') !== undefined,
      'subject',
    );
    expect(subject.attrs['from']).toBe(ROOM);
    // The subject comes after the self-presence.
    expect(juliet.inbox.history.indexOf(subject)).toBeGreaterThan(juliet.inbox.history.indexOf(self));
    const join = await romeo.next('join', (e) => e.nick === 'juliet');
    expect(join.channel).toBe('#test');
  });

  it('sends groupchat messages to the channel and reflects them to the sender with their id (§7.4)', async () => {
    await juliet.send(
      xml('message', { to: ROOM, type: 'groupchat', id: 'gc-1' }, xml('body', {}, 'Hello Romeo')),
    );
    const said = await romeo.next('privmsg', (e) => e.nick === 'juliet');
    expect(said).toMatchObject({ target: '#test', message: 'Hello Romeo' });
    const reflected = await juliet.inbox.next(isGroupchatFrom(occupant('juliet')), 'the reflection');
    expect(reflected.attrs['id']).toBe('gc-1');
    expect(reflected.getChildText('body')).toBe('Hello Romeo');
  });

  it('delivers channel messages as groupchat from the speaker, formatting as XEP-0393 styling', async () => {
    romeo.raw('PRIVMSG #test :\x02But soft\x02, what \x0304light\x03 \x1dthrough yonder\x1d?');
    const message = await juliet.inbox.next(isGroupchatFrom(occupant('romeo')), 'romeo’s message');
    expect(message.getChildText('body')).toBe('*But soft*, what light _through yonder_?');
    // And back, where the styling is unambiguous; snake_case stays as it is.
    await juliet.send(
      xml(
        'message',
        { to: ROOM, type: 'groupchat' },
        xml('body', {}, '*It is* the ~west~ `east`\nsnake_case'),
      ),
    );
    const styled = await romeo.next('privmsg', (e) => e.nick === 'juliet' && e.message.startsWith('\x02'));
    expect(styled.message).toBe('\x02It is\x02 the \x1ewest\x1e \x11east\x11');
    expect((await romeo.next('privmsg', (e) => e.nick === 'juliet')).message).toBe('snake_case');
  });

  it('maps /me to CTCP ACTION and back', async () => {
    await juliet.send(xml('message', { to: ROOM, type: 'groupchat' }, xml('body', {}, '/me sighs')));
    const action = await romeo.next('action', (e) => e.nick === 'juliet');
    expect(action).toMatchObject({ target: '#test', message: 'sighs' });
    romeo.raw('PRIVMSG #test :\x01ACTION bows\x01');
    const message = await juliet.inbox.next(isGroupchatFrom(occupant('romeo')), 'romeo’s action');
    expect(message.getChildText('body')).toBe('/me bows');
  });

  it('carries private messages both ways as direct chats and as MUC private messages (§7.5)', async () => {
    romeo.raw('PRIVMSG juliet :psst');
    const direct = await juliet.inbox.next(
      (s) =>
        s.is('message') && s.attrs['type'] === 'chat' && s.attrs['from'] === `romeo%127.0.0.1@${IRC_DOMAIN}`,
      'a direct chat from romeo',
    );
    expect(direct.getChildText('body')).toBe('psst');
    await juliet.send(
      xml('message', { to: `romeo%127.0.0.1@${IRC_DOMAIN}`, type: 'chat' }, xml('body', {}, 'yes?')),
    );
    expect(await romeo.next('privmsg', (e) => e.nick === 'juliet' && e.target === 'romeo')).toMatchObject({
      message: 'yes?',
    });

    await juliet.send(xml('message', { to: occupant('romeo'), type: 'chat' }, xml('body', {}, 'in private')));
    expect(await romeo.next('privmsg', (e) => e.nick === 'juliet' && e.target === 'romeo')).toMatchObject({
      message: 'in private',
    });
    romeo.raw('PRIVMSG juliet :private answer');
    const viaRoom = await juliet.inbox.next(
      (s) => s.is('message') && s.attrs['type'] === 'chat' && s.attrs['from'] === occupant('romeo'),
      'a MUC private message',
    );
    expect(viaRoom.getChildText('body')).toBe('private answer');
    expect(viaRoom.getChild('x', NS_MUC_USER)).toBeDefined();
  });

  it('turns a channel operator grant into a moderator role, and lets the moderator set the subject', async () => {
    romeo.raw('MODE #test +o juliet');
    const promoted = await juliet.inbox.next(isPresenceFrom(occupant('juliet')), 'the new role');
    expect(item(promoted)).toMatchObject({ role: 'moderator', affiliation: 'admin' });
    expect(statusCodes(promoted)).toContain('110');

    await juliet.send(xml('message', { to: ROOM, type: 'groupchat' }, xml('subject', {}, 'Verona')));
    expect(await romeo.next('topic', (e) => e.nick === 'juliet')).toMatchObject({
      channel: '#test',
      topic: 'Verona',
    });
    romeo.raw('TOPIC #test :The balcony');
    const subject = await juliet.inbox.next(
      (s) => s.is('message') && s.getChildText('subject') === 'The balcony',
      'romeo’s topic',
    );
    expect(subject.attrs['from']).toBe(occupant('romeo'));
  });

  it('splits a long body at 512-byte lines on UTF-8 boundaries and never lets CR/LF start a command', async () => {
    const long = ('Ω'.repeat(300) + ' ' + 'word '.repeat(150)).trimEnd();
    await juliet.send(
      xml(
        'message',
        { to: ROOM, type: 'groupchat' },
        xml('body', {}, `${long}\r\nQUIT :injected\nsecond line`),
      ),
    );
    const received: string[] = [];
    while (!received.includes('second line')) {
      received.push(
        (await romeo.next('privmsg', (e) => e.nick === 'juliet' && e.target === '#test')).message,
      );
    }
    expect(received.length).toBeGreaterThan(3);
    const quitIndex = received.indexOf('QUIT :injected');
    expect(quitIndex).toBeGreaterThan(1);
    expect(received.slice(0, quitIndex).join('')).toBe(long);
    // The would-be QUIT was a message: juliet is still there.
    expect(
      romeo.events.some((e) => e.name === 'quit' && (e.data as { nick: string }).nick === 'juliet'),
    ).toBe(false);

    romeo.raw('PRIVMSG #test :line one');
    romeo.raw('PRIVMSG #test :line two');
    const [one, two] = [
      await juliet.inbox.next(isGroupchatFrom(occupant('romeo')), 'line one'),
      await juliet.inbox.next(isGroupchatFrom(occupant('romeo')), 'line two'),
    ];
    expect([one.getChildText('body'), two.getChildText('body')]).toEqual(['line one', 'line two']);
  });

  it('answers a nick in use with a MUC conflict (§7.2.9)', async () => {
    await nurse.send(joinPresence(occupant('romeo'), 'nurse-join'));
    const error = await nurse.inbox.next(
      (s) => s.is('presence') && s.attrs['type'] === 'error',
      'the conflict',
      20_000,
    );
    expect(errorCondition(error)).toBe('conflict');
    expect(error.attrs['from']).toBe(occupant('romeo'));
  });

  it('changes nick both ways with status 303 (§7.6)', async () => {
    await juliet.send(joinPresence(occupant('jules')));
    const nick = await romeo.next('nick', (e) => e.nick === 'juliet');
    expect(nick.new_nick).toBe('jules');
    const gone = await juliet.inbox.next(
      isPresenceFrom(occupant('juliet'), 'unavailable'),
      'the old nick leaving',
    );
    expect(statusCodes(gone)).toEqual(expect.arrayContaining(['303', '110']));
    expect(item(gone).nick).toBe('jules');
    await juliet.inbox.next(isPresenceFrom(occupant('jules')), 'the new nick');

    romeo.raw('NICK romeo2');
    const romeoGone = await juliet.inbox.next(
      isPresenceFrom(occupant('romeo'), 'unavailable'),
      'romeo renamed',
    );
    expect(statusCodes(romeoGone)).toContain('303');
    expect(item(romeoGone).nick).toBe('romeo2');
    await juliet.inbox.next(isPresenceFrom(occupant('romeo2')), 'romeo2');
    romeo.raw('NICK romeo');
    await juliet.inbox.next(isPresenceFrom(occupant('romeo')), 'romeo again');
  });

  it('shows a kick as unavailable with 307 and 110, and lets the user join again (§9.1)', async () => {
    romeo.raw('KICK #test jules :Be gone');
    const kicked = await juliet.inbox.next(isPresenceFrom(occupant('jules'), 'unavailable'), 'the kick');
    expect(statusCodes(kicked)).toEqual(expect.arrayContaining(['307', '110']));
    expect(kicked.getChild('x', NS_MUC_USER)?.getChild('item')?.getChildText('reason')).toBe('Be gone');

    await juliet.send(joinPresence(occupant('jules')));
    const self = await juliet.inbox.next(
      (s) => isPresenceFrom(occupant('jules'))(s) && statusCodes(s).includes('110'),
      'joined again',
    );
    expect(item(self).role).toBe('participant');
    await romeo.next('join', (e) => e.nick === 'jules');
  });

  it('maps away ↔ show, invitations both ways (XEP-0045 §7.8.2, XEP-0249) and bans ↔ outcast (§9.1, §9.3)', async () => {
    // IRC side, all at once (ngircd spaces out one client's commands).
    romeo.raw('AWAY :gone to lunch');
    romeo.raw('JOIN #balcony');
    romeo.raw('INVITE jules #balcony');
    romeo.raw('MODE #test +b mallory!*@*');
    romeo.raw('MODE #test +o jules');

    // XMPP presence away → IRC AWAY with the status; romeo's message to jules is answered with RPL_AWAY.
    await juliet.send(
      xml('presence', { to: occupant('jules') }, xml('show', {}, 'away'), xml('status', {}, 'at the window')),
    );
    // XEP-0045 §7.7: the change is reflected to the user as their occupant's presence.
    const reflected = await juliet.inbox.next(
      (s) => isPresenceFrom(occupant('jules'))(s) && s.getChildText('show') === 'away',
      'jules away, reflected',
    );
    expect(reflected.getChildText('status')).toBe('at the window');
    expect(statusCodes(reflected)).toContain('110');
    await juliet.send(
      xml('message', { to: occupant('romeo'), type: 'chat' }, xml('body', {}, 'still there?')),
    );

    // IRC INVITE → a XEP-0249 direct invitation from the inviter.
    const invitation = await juliet.inbox.next(
      (s) => s.is('message') && s.getChild('x', 'jabber:x:conference') !== undefined,
      'the invitation',
      20_000,
    );
    expect(invitation.attrs['from']).toBe(`romeo%127.0.0.1@${IRC_DOMAIN}`);
    expect(invitation.getChild('x', 'jabber:x:conference')?.attrs['jid']).toBe(
      `#balcony%127.0.0.1@${IRC_DOMAIN}`,
    );

    // The away IRC user is an occupant with show away, learnt from RPL_AWAY on the private message.
    const romeoAway = await juliet.inbox.next(
      (s) => isPresenceFrom(occupant('romeo'))(s) && s.getChildText('show') === 'away',
      'romeo away',
      20_000,
    );
    expect(romeoAway.getChildText('status')).toBe('gone to lunch');

    // A ban on IRC is told in the room.
    const banned = await juliet.inbox.next(
      (s) =>
        s.is('message') && s.attrs['from'] === ROOM && /\+b mallory!\*@\*/.test(s.getChildText('body') ?? ''),
      'the ban',
      20_000,
    );
    expect(banned.getChildText('body')).toContain('romeo');

    romeo.raw('PRIVMSG jules :are you there?');
    expect(await romeo.next('away', (e) => e.nick === 'jules', 20_000)).toMatchObject({
      message: 'at the window',
    });

    // Mediated invitations: an IRC user gets an INVITE, an XMPP user the invitation from the room.
    await juliet.send(
      xml(
        'message',
        { to: ROOM },
        xml(
          'x',
          { xmlns: NS_MUC_USER },
          xml('invite', { to: `benvolio%127.0.0.1@${IRC_DOMAIN}` }),
          xml('invite', { to: nurse.bare }, xml('reason', {}, 'come up')),
        ),
      ),
    );
    expect(await benvolio.next('invite', (e) => e.nick === 'jules', 20_000)).toMatchObject({
      channel: '#test',
    });
    const mediated = await nurse.inbox.next(
      (s) => s.is('message') && s.attrs['from'] === ROOM,
      'the mediated invitation',
    );
    const invite = mediated.getChild('x', NS_MUC_USER)?.getChild('invite');
    expect(invite?.attrs['from']).toBe(juliet.bare);
    expect(invite?.getChildText('reason')).toBe('come up');

    // Available again → AWAY unset; jules' next line comes after it on the same connection.
    await juliet.send(xml('presence', { to: occupant('jules') }));
    await juliet.send(xml('message', { to: ROOM, type: 'groupchat' }, xml('body', {}, 'back')));
    await romeo.next('privmsg', (e) => e.nick === 'jules' && e.message === 'back', 20_000);
    romeo.raw('WHOIS jules');
    const whois = await romeo.next('whois', (e) => e.nick === 'jules', 20_000);
    expect(whois.away).toBeUndefined();

    // As a moderator, jules bans benvolio through muc#admin and reads the ban list.
    await juliet.inbox.next(
      (s) => isPresenceFrom(occupant('jules'))(s) && item(s).role === 'moderator',
      'jules an operator',
      20_000,
    );
    const NS_MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
    await juliet.iq(
      xml(
        'iq',
        { type: 'set', to: ROOM },
        xml(
          'query',
          { xmlns: NS_MUC_ADMIN },
          xml('item', { affiliation: 'outcast', jid: `benvolio%127.0.0.1@${IRC_DOMAIN}` }),
        ),
      ),
    );
    const mode = await romeo.next(
      'mode',
      (e) => e.modes.some((m) => m.mode === '+b' && m.param === 'benvolio!*@*'),
      20_000,
    );
    expect(mode.nick).toBe('jules');
    const list = await juliet.iq(
      xml(
        'iq',
        { type: 'get', to: ROOM },
        xml('query', { xmlns: NS_MUC_ADMIN }, xml('item', { affiliation: 'outcast' })),
      ),
    );
    const outcasts = list
      .getChild('query', NS_MUC_ADMIN)
      ?.getChildren('item')
      .map((i) => i.attrs);
    expect(outcasts).toEqual(
      expect.arrayContaining([
        { affiliation: 'outcast', jid: `benvolio%127.0.0.1@${IRC_DOMAIN}` },
        { affiliation: 'outcast', jid: `mallory%127.0.0.1@${IRC_DOMAIN}` },
      ]),
    );
  });

  it('rejects channel names IRC cannot carry with jid-malformed', async () => {
    await juliet.send(joinPresence(`#bad,name%127.0.0.1@${IRC_DOMAIN}/jules`, 'bad-1'));
    const error = await juliet.inbox.next((s) => s.is('presence') && s.attrs['id'] === 'bad-1', 'the error');
    expect(error.attrs['type']).toBe('error');
    expect(errorCondition(error)).toBe('jid-malformed');
  });

  it('answers a join or a chat to an unreachable IRC server with remote-server-not-found', async () => {
    await juliet.send(joinPresence(`#test%localhost@${IRC_DOMAIN}/jules`, 'unreachable-1'));
    const error = await juliet.inbox.next(
      (s) => s.is('presence') && s.attrs['id'] === 'unreachable-1',
      'the error',
      20_000,
    );
    expect(errorCondition(error)).toBe('remote-server-not-found');

    // A direct chat to someone there is bounced the same way.
    await juliet.send(
      xml(
        'message',
        { to: `mercutio%localhost@${IRC_DOMAIN}`, type: 'chat', id: 'unreachable-2' },
        xml('body', {}, 'hi'),
      ),
    );
    const bounce = await juliet.inbox.next(
      (s) => s.is('message') && s.attrs['id'] === 'unreachable-2',
      'the bounce',
      20_000,
    );
    expect(bounce.attrs['type']).toBe('error');
    expect(errorCondition(bounce)).toBe('remote-server-not-found');
  });

  it('describes itself and lists a server’s channels through disco (XEP-0030)', async () => {
    const info = await juliet.iq(
      xml(
        'iq',
        { type: 'get', to: IRC_DOMAIN },
        xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }),
      ),
    );
    expect(info.getChild('query')?.getChild('identity')?.attrs).toMatchObject({
      category: 'conference',
      type: 'irc',
    });
    const items = await juliet.iq(
      xml(
        'iq',
        { type: 'get', to: `127.0.0.1@${IRC_DOMAIN}` },
        xml('query', { xmlns: 'http://jabber.org/protocol/disco#items' }),
      ),
    );
    const jids = items
      .getChild('query')
      ?.getChildren('item')
      .map((i) => i.attrs['jid'] as string);
    expect(jids).toContain(ROOM);
  });

  it('configures a server for the user through an ad-hoc command (XEP-0050)', async () => {
    const NS_COMMANDS = 'http://jabber.org/protocol/commands';
    const server = `127.0.0.1@${IRC_DOMAIN}`;
    const first = await juliet.iq(
      xml(
        'iq',
        { type: 'set', to: server },
        xml('command', { xmlns: NS_COMMANDS, node: 'configure', action: 'execute' }),
      ),
    );
    const command = first.getChild('command', NS_COMMANDS)!;
    expect(command.attrs['status']).toBe('executing');
    expect(command.getChild('x', 'jabber:x:data')?.attrs['type']).toBe('form');
    const done = await juliet.iq(
      xml(
        'iq',
        { type: 'set', to: server },
        xml(
          'command',
          { xmlns: NS_COMMANDS, node: 'configure', sessionid: command.attrs['sessionid'] as string },
          xml(
            'x',
            { xmlns: 'jabber:x:data', type: 'submit' },
            xml('field', { var: 'nick' }, xml('value', {}, 'jules')),
            xml(
              'field',
              { var: 'after_connect_commands' },
              xml('value', {}, 'PRIVMSG NickServ :IDENTIFY secret'),
            ),
          ),
        ),
      ),
    );
    expect(done.getChild('command', NS_COMMANDS)?.attrs['status']).toBe('completed');
    expect(await memberships.settings(juliet.bare, '127.0.0.1')).toEqual({
      nick: 'jules',
      afterConnect: ['PRIVMSG NickServ :IDENTIFY secret'],
    });
  });

  it('rejoins after a gateway restart and tells the user', async () => {
    // Only what comes after the restart counts (earlier self-presences may still be unread).
    const mark = juliet.inbox.history.length;
    const afterRestart = (s: Element): boolean => juliet.inbox.history.indexOf(s) >= mark;
    await gateway.stop();
    await romeo.next('quit', (e) => e.nick === 'jules');
    gateway = await start();
    await romeo.next('join', (e) => e.nick === 'jules', 20_000);
    const self = await juliet.inbox.next(
      (s) => afterRestart(s) && isPresenceFrom(occupant('jules'))(s) && statusCodes(s).includes('110'),
      'self-presence after the restart',
      20_000,
    );
    expect(self).toBeDefined();
    const notice = await juliet.inbox.next(
      (s) => s.is('message') && s.attrs['from'] === ROOM && /restarted/.test(s.getChildText('body') ?? ''),
      'the explanation',
    );
    expect(notice.getChildText('body')).toContain('#test');
    // Romeo is still away: NAMES does not say so, the WHO after the join does (flag G).
    const away = await juliet.inbox.next(
      (s) => afterRestart(s) && isPresenceFrom(occupant('romeo'))(s) && s.getChildText('show') === 'away',
      'romeo away from WHO',
      20_000,
    );
    expect(item(away).role).toBe('moderator');
    romeo.raw('AWAY');
    // Still working both ways.
    romeo.raw('PRIVMSG #test :welcome back');
    expect(
      (await juliet.inbox.next(isGroupchatFrom(occupant('romeo')), 'after restart')).getChildText('body'),
    ).toBe('welcome back');
  });

  it('parts the channel when the user leaves, and quits IRC after the linger', async () => {
    await juliet.send(xml('presence', { to: occupant('jules'), type: 'unavailable' }));
    const self = await juliet.inbox.next(isPresenceFrom(occupant('jules'), 'unavailable'), 'the leave');
    expect(statusCodes(self)).toContain('110');
    await romeo.next('part', (e) => e.nick === 'jules');
    // Romeo shares no channel with jules any more, so he sees no QUIT: the gateway reports it.
    await gateway.gateway.whenIdle();
    expect(await memberships.all()).toEqual([]);
  });
});
