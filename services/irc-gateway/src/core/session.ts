import irc, {
  type Client,
  type ChannelListEntry,
  type MessageEvent,
  type UserlistMember,
} from 'irc-framework';
import { StanzaError, type StanzaErrorCondition } from '@switchboard/component';
import type { Logger } from '@switchboard/kit';
import { xml, type Element } from '@switchboard/xml';
import { channelJid, userJid } from '../address.js';
import { ircToStyled } from '../irc/styling.js';
import { ircToXmpp, messageLines, safeTrailing } from '../irc/text.js';
import { ThrottledWriter, TokenBucket } from '../irc/token-bucket.js';
import { channelKey, type Membership } from '../persistence/memberships.js';
import {
  MEMBER_MODES,
  NS_MUC_USER,
  directInvite,
  groupchat,
  occupantPresence,
  subjectMessage,
  type OccupantPresence,
} from './muc.js';

/** How to reach one IRC server, from the gateway config and the user's settings. */
export interface ServerConnection {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /** False only for servers on the config's exception list. */
  readonly verifyCertificate: boolean;
  readonly sasl?: { readonly username: string; readonly password: string };
  /** Presented over TLS; without SASL PLAIN credentials the login is SASL EXTERNAL (CertFP). */
  readonly clientCertificate?: { readonly certificate: string; readonly privateKey: string };
  /** Raw lines sent once registered (NickServ IDENTIFY and the like). */
  readonly afterConnect: readonly string[];
  readonly realname: string;
}

export interface SessionTuning {
  readonly flood: { readonly burst: number; readonly perSecond: number };
  readonly reconnect: { readonly initialMs: number; readonly maxMs: number };
  /** How long a connection stays open after its last channel was left. */
  readonly lingerMs: number;
}

/** What a session needs from the gateway around it. */
export interface SessionContext {
  readonly domain: string;
  readonly logger: Logger;
  /** Sends a stanza into the XMPP network, in order. */
  send(el: Element): void;
  persist(membership: Membership): void;
  forget(user: string, server: string, channel: string): void;
  /** The session closed for good and is to be dropped; `quit` resolves once the QUIT went out. */
  closed(session: IrcSession, quit: Promise<void>): void;
}

interface Member {
  nick: string;
  modes: Set<string>;
  /** Away message when the IRC user is away ('' when only the WHO flag said so). */
  away?: string | undefined;
}

/** XMPP presence `show` values that mean away on IRC (RFC 6121 §4.7.2.1). */
export type AwayShow = 'away' | 'xa' | 'dnd';
/** RFC 6121 §4.7.2.1: the values of `show`. */
const SHOWS: ReadonlySet<string> = new Set(['away', 'chat', 'dnd', 'xa']);
const AWAY_TEXT: Readonly<Record<AwayShow, string>> = {
  away: 'Away',
  xa: 'Extended away',
  dnd: 'Do not disturb',
};

interface Channel {
  readonly name: string;
  readonly jid: string;
  /** Our JOIN was answered with the end of NAMES. */
  joined: boolean;
  joinSent: boolean;
  readonly members: Map<string, Member>;
  topic: string;
  /** Resources shown in the room. */
  readonly resources: Set<string>;
  /** Resources waiting for the channel to be joined, with the presence that asked. */
  readonly waiting: Map<string, { readonly requestedNick: string; readonly stanza: Element | null }>;
  /** Why the next completed join is a rejoin the user is told about. */
  rejoinReason: string | undefined;
}

type State = 'connecting' | 'registered' | 'reconnecting' | 'closed';

const lower = (nick: string): string => nick.toLowerCase();

/**
 * One XMPP user's connection to one IRC server and the MUC view of it
 * (XEP-0045 on one side, RFC 2812 on the other), biboumi's IrcClient+Bridge.
 */
export class IrcSession {
  nick: string;
  private state: State = 'connecting';
  private client: Client | undefined;
  private writer: ThrottledWriter | undefined;
  /** Lines said before registration completed; sent once it does. */
  private beforeRegistration: string[] = [];
  private readonly channels = new Map<string, Channel>();
  /** Where private messages from a nick go: the room they were last exchanged through, or a direct chat. */
  private readonly privateRoutes = new Map<string, string | null>();
  private everRegistered = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private pendingNickChange:
    { readonly from: string; readonly to: string; readonly stanza: Element } | undefined;
  private listWaiters: ((entries: ChannelListEntry[]) => void)[] = [];
  private readonly banWaiters = new Map<string, ((masks: string[]) => void)[]>();
  private listBuffer: ChannelListEntry[] = [];
  private closedWaiters: (() => void)[] = [];
  private lastSocketError: string | undefined;
  private unsentMessages: Element[] = [];
  /** The away message of each resource whose presence is away, xa or dnd. */
  private readonly awayResources = new Map<string, string>();
  /** The AWAY message the IRC server has for us, undefined when not away. */
  private awayMessage: string | undefined;

  constructor(
    readonly user: string,
    readonly server: string,
    nick: string,
    private readonly connection: ServerConnection,
    private readonly tuning: SessionTuning,
    private readonly ctx: SessionContext,
  ) {
    this.nick = nick;
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  get channelCount(): number {
    return this.channels.size;
  }

  /** Restores a membership saved before a restart; the join completes after connecting. */
  restore(membership: Membership, reason: string): void {
    const channel = this.channel(membership.channel);
    for (const resource of membership.resources) {
      channel.waiting.set(resource, { requestedNick: membership.nick, stanza: null });
    }
    channel.rejoinReason = reason;
  }

  /** Opens the IRC connection; once only (reconnects are the session's own). */
  connect(): void {
    if (this.client !== undefined || this.state === 'closed') return;
    this.open();
  }

  private open(): void {
    const client = new irc.Client();
    this.client = client;
    const bucket = new TokenBucket(this.tuning.flood.burst, this.tuning.flood.perSecond);
    this.writer = new ThrottledWriter(bucket, (line) => client.raw(line));
    this.listen(client);
    client.connect({
      host: this.connection.host,
      port: this.connection.port,
      nick: this.nick,
      username: this.nick,
      gecos: this.connection.realname,
      tls: this.connection.tls,
      rejectUnauthorized: this.connection.verifyCertificate,
      // Our own reconnect and rejoin (shared/LIBRARY-NOTES.md: the library's gives up and does not rejoin).
      auto_reconnect: false,
      version: null,
      ...(this.connection.clientCertificate === undefined
        ? {}
        : {
            client_certificate: {
              certificate: this.connection.clientCertificate.certificate,
              private_key: this.connection.clientCertificate.privateKey,
            },
          }),
      ...(this.connection.sasl !== undefined
        ? { account: { account: this.connection.sasl.username, password: this.connection.sasl.password } }
        : this.connection.clientCertificate === undefined
          ? {}
          : { sasl_mechanism: 'EXTERNAL' }),
    });
  }

  // ---- XMPP → IRC ----

  /** A resource's join (XEP-0045 §7.2); the nick of the first join becomes the IRC nick. */
  join(resource: string, channelName: string, requestedNick: string, stanza: Element): void {
    this.cancelLinger();
    const channel = this.channel(channelName);
    if (channel.joined) {
      channel.resources.add(resource);
      this.sendJoinedState(channel, resource, requestedNick);
      this.persist(channel);
      return;
    }
    channel.waiting.set(resource, { requestedNick, stanza });
    this.sendJoin(channel);
  }

  /** A resource left the room (XEP-0045 §7.14); the last one parts the channel. */
  leave(resource: string, channelName: string): void {
    const channel = this.channels.get(channelKey(channelName));
    if (channel === undefined) return;
    const wasIn = channel.resources.delete(resource) || channel.waiting.delete(resource);
    if (wasIn) {
      this.ctx.send(
        occupantPresence({
          from: `${channel.jid}/${this.nick}`,
          to: resource,
          modes: new Set(),
          unavailable: true,
          codes: [110],
        }),
      );
    }
    if (channel.resources.size > 0 || channel.waiting.size > 0) {
      this.persist(channel);
      return;
    }
    this.channels.delete(channelKey(channelName));
    this.ctx.forget(this.user, this.server, channel.name);
    if (channel.joinSent) this.say(`PART ${channel.name}`);
    if (!this.hasResource(resource)) this.awayResources.delete(resource);
    this.updateAway();
    this.lingerIfIdle();
  }

  /**
   * A resource's presence in a room: away, xa and dnd make the connection AWAY with the status
   * text once every resource in a room is away; any available resource unsets it (RFC 2812 §4.1).
   */
  setPresence(
    resource: string,
    show: string | undefined,
    status: string | undefined,
    channelName?: string,
  ): void {
    // XEP-0045 §7.7: the changed presence goes to every occupant, the sender's resources included.
    const channel = channelName === undefined ? undefined : this.channels.get(channelKey(channelName));
    if (channel?.joined === true && channel.resources.has(resource)) {
      const self = channel.members.get(lower(this.nick));
      for (const to of channel.resources) {
        this.ctx.send(
          occupantPresence({
            from: `${channel.jid}/${this.nick}`,
            to,
            modes: self?.modes ?? new Set(),
            show: SHOWS.has(show ?? '') ? show : undefined,
            ...(status === undefined ? {} : { status }),
            codes: to === resource ? [110] : [],
          }),
        );
      }
    }
    if (show === 'away' || show === 'xa' || show === 'dnd') {
      const text = status?.trim() === undefined || status.trim() === '' ? AWAY_TEXT[show] : status.trim();
      this.awayResources.set(resource, text);
    } else {
      this.awayResources.delete(resource);
    }
    this.updateAway();
  }

  /** RFC 2812 §3.2.7: invites `nick` to the channel. */
  invite(channelName: string, nick: string): void {
    const channel = this.channels.get(channelKey(channelName));
    this.say(`INVITE ${nick} ${channel?.name ?? channelName}`);
  }

  /**
   * XEP-0045 §9.1/§9.2 bans as channel ban masks (RFC 2811 §4.3.1): outcast → +b, none → -b.
   * IRC bans by mask, not by account, so a nick becomes `nick!*@*`.
   */
  setBan(channelName: string, nick: string, banned: boolean): StanzaError | null {
    const channel = this.channels.get(channelKey(channelName));
    if (channel === undefined) return new StanzaError('not-acceptable');
    this.say(`MODE ${channel.name} ${banned ? '+b' : '-b'} ${nick}!*@*`);
    return null;
  }

  /** The channel's ban masks (RFC 2811 §4.3.1), for a muc#admin outcast list. */
  banList(channelName: string, timeoutMs = 15_000): Promise<string[]> {
    const channel = this.channels.get(channelKey(channelName));
    if (channel === undefined) return Promise.resolve([]);
    return new Promise((resolve) => {
      const key = channelKey(channel.name);
      const finish = (masks: string[]): void => {
        clearTimeout(timer);
        const waiting = this.banWaiters.get(key) ?? [];
        const rest = waiting.filter((w) => w !== finish);
        if (rest.length === 0) this.banWaiters.delete(key);
        else this.banWaiters.set(key, rest);
        resolve(masks);
      };
      const timer = setTimeout(() => finish([]), timeoutMs);
      const waiting = this.banWaiters.get(key) ?? [];
      this.banWaiters.set(key, [...waiting, finish]);
      if (waiting.length === 0) this.say(`MODE ${channel.name} +b`);
    });
  }

  /** Every channel this resource is in: its presence went unavailable. */
  leaveAll(resource: string): void {
    for (const channel of [...this.channels.values()]) {
      if (channel.resources.has(resource) || channel.waiting.has(resource))
        this.leave(resource, channel.name);
    }
  }

  isIn(resource: string, channelName: string): boolean {
    return this.channels.get(channelKey(channelName))?.resources.has(resource) === true;
  }

  /** XEP-0045 §7.6: a new nick in the room is a NICK for the whole connection. */
  changeNick(resource: string, channelName: string, newNick: string, stanza: Element): void {
    const channel = this.channels.get(channelKey(channelName));
    if (channel === undefined) return;
    this.pendingNickChange = { from: `${channel.jid}/${newNick}`, to: resource, stanza };
    this.say(`NICK ${newNick}`);
  }

  /**
   * A groupchat message: said in the channel (as `ircText`, the body with IRC formatting) and
   * reflected unchanged to the user's resources, as a MUC does (§7.4).
   */
  groupchat(
    channelName: string,
    body: string,
    id: string | undefined,
    action: boolean,
    ircText: string = body,
  ): void {
    const channel = this.channels.get(channelKey(channelName));
    if (channel === undefined) return;
    for (const line of messageLines('PRIVMSG', channel.name, ircText, { action })) this.say(line);
    const shown = action ? `/me ${body}` : body;
    for (const resource of channel.resources) {
      this.ctx.send(groupchat(`${channel.jid}/${this.nick}`, resource, shown, id));
    }
  }

  /** XEP-0045 §8.1: a subject change is a TOPIC. */
  setSubject(channelName: string, subject: string): void {
    const channel = this.channels.get(channelKey(channelName));
    if (channel === undefined) return;
    this.say(`TOPIC ${channel.name} :${safeTrailing(subject)}`);
  }

  /** A private message to `nick`; replies come back the way this one went (through `viaRoom` or directly). */
  privateMessage(
    nick: string,
    body: string,
    action: boolean,
    viaRoom: string | null,
    stanza?: Element,
  ): void {
    this.cancelLinger();
    // Said before the connection is up: bounced if it never comes up (RFC 6120 §8.3).
    if (stanza !== undefined && !this.everRegistered) this.unsentMessages.push(stanza);
    this.privateRoutes.set(lower(nick), viaRoom);
    for (const line of messageLines('PRIVMSG', nick, body, { action })) this.say(line);
    this.lingerIfIdle();
  }

  /** XEP-0045 §9.6/§9.7/§8.2: moderator and voice grants as MODE, role none as KICK. */
  setRole(channelName: string, nick: string, role: string, reason: string | undefined): StanzaError | null {
    const channel = this.channels.get(channelKey(channelName));
    if (channel === undefined) return new StanzaError('not-acceptable');
    const member = channel.members.get(lower(nick));
    if (member === undefined) return new StanzaError('item-not-found');
    switch (role) {
      case 'moderator':
        this.say(`MODE ${channel.name} +o ${member.nick}`);
        return null;
      case 'participant':
        this.say(
          member.modes.has('o')
            ? `MODE ${channel.name} -o ${member.nick}`
            : `MODE ${channel.name} +v ${member.nick}`,
        );
        return null;
      case 'visitor':
        this.say(`MODE ${channel.name} -v ${member.nick}`);
        return null;
      case 'none':
        this.say(`KICK ${channel.name} ${member.nick} :${safeTrailing(reason ?? '')}`);
        return null;
      default:
        return new StanzaError('bad-request');
    }
  }

  /** The server's channel list (RFC 2812 §3.2.6 LIST), for disco#items. */
  list(timeoutMs = 15_000): Promise<ChannelListEntry[]> {
    this.cancelLinger();
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish([]), timeoutMs);
      const finish = (entries: ChannelListEntry[]): void => {
        clearTimeout(timer);
        this.listWaiters = this.listWaiters.filter((w) => w !== finish);
        this.lingerIfIdle();
        resolve(entries);
      };
      this.listWaiters.push(finish);
      if (this.listWaiters.length === 1) this.say('LIST');
    });
  }

  /** Quits IRC. `forget` false keeps the memberships for after a restart (gateway shutdown). */
  close(reason: string): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    this.state = 'closed';
    this.clearTimers();
    this.writer?.clear();
    for (const finish of this.listWaiters) finish([]);
    const client = this.client;
    const closed = new Promise<void>((resolve) => {
      if (client === undefined || !client.connected) return resolve();
      this.closedWaiters.push(resolve);
      setTimeout(resolve, 2000).unref();
    });
    client?.quit(safeTrailing(reason));
    this.ctx.closed(this, closed);
    return closed;
  }

  // ---- IRC → XMPP ----

  private listen(client: Client): void {
    client.on('registered', (event) => {
      if (this.client !== client) return;
      this.state = 'registered';
      this.nick = event.nick;
      this.attempt = 0;
      const reconnected = this.everRegistered;
      this.everRegistered = true;
      this.unsentMessages = [];
      for (const line of this.connection.afterConnect) this.writeNow(line);
      // A new connection is not away: tell the server again.
      if (this.awayMessage !== undefined) this.writeNow(`AWAY :${safeTrailing(this.awayMessage)}`);
      const queued = this.beforeRegistration;
      this.beforeRegistration = [];
      for (const channel of this.channels.values()) {
        channel.joinSent = false;
        if (reconnected && channel.resources.size > 0) {
          for (const resource of channel.resources) {
            channel.waiting.set(resource, { requestedNick: this.nick, stanza: null });
          }
          channel.resources.clear();
          channel.rejoinReason = 'The connection to the IRC server was lost and has been re-established';
        }
        this.sendJoin(channel);
      }
      for (const line of queued) if (!line.startsWith('JOIN ')) this.writeNow(line);
      this.lingerIfIdle();
    });

    client.on('nick in use', (event) => {
      if (this.client !== client) return;
      if (this.state === 'registered') {
        this.failNickChange('conflict');
        return;
      }
      if (this.everRegistered || this.hasRestored()) {
        // A reconnect: our nick may still be held by our own ghost; take another one.
        this.nick = `${event.nick}_`;
        client.raw(`NICK ${this.nick}`);
        return;
      }
      // XEP-0045 §7.2.9: the nick is taken.
      this.failWaiting('conflict', `The nick ${event.nick} is in use on ${this.server}`);
      void this.close('nick in use');
    });

    client.on('nick invalid', () => {
      if (this.client !== client) return;
      if (this.state === 'registered') return this.failNickChange('not-acceptable');
      this.failWaiting('not-acceptable', 'The IRC server does not accept this nick');
      void this.close('nick invalid');
    });

    client.on('close', () => {
      if (this.client !== client) return;
      for (const resolve of this.closedWaiters.splice(0)) resolve();
      if (this.state === 'closed') return;
      this.writer?.clear();
      if (!this.everRegistered && !this.hasRestored()) {
        // Never got through: the server is unreachable or refused us.
        const why = this.lastSocketError === undefined ? '' : `: ${this.lastSocketError}`;
        this.failWaiting('remote-server-not-found', `Cannot connect to the IRC server ${this.server}${why}`);
        void this.close('unreachable');
        return;
      }
      this.scheduleReconnect();
    });

    client.on('sasl failed', (event) => {
      // irc-framework carries on unauthenticated, as a client without SASL would.
      this.ctx.logger.warn(
        { server: this.server, user: this.user, reason: event.reason, message: event.message },
        'irc sasl login failed',
      );
    });

    client.on('socket error', (error) => {
      this.lastSocketError = error.message;
      this.ctx.logger.info({ err: error, server: this.server }, 'irc socket error');
    });

    client.on('join', (event) => {
      const channel = this.channels.get(channelKey(event.channel));
      if (channel === undefined) return;
      if (lower(event.nick) === lower(this.nick)) return; // our own JOIN; NAMES follows
      channel.members.set(lower(event.nick), { nick: event.nick, modes: new Set() });
      if (channel.joined) this.toOccupants(channel, { nick: event.nick, modes: new Set() });
    });

    client.on('userlist', (event) => {
      const channel = this.channels.get(channelKey(event.channel));
      if (channel === undefined) return;
      channel.members.clear();
      for (const member of event.users) channel.members.set(lower(member.nick), this.member(member));
      if (!channel.joined) this.completeJoin(channel);
    });

    client.on('part', (event) => {
      const channel = this.channels.get(channelKey(event.channel));
      if (channel === undefined || lower(event.nick) === lower(this.nick)) return;
      const member = channel.members.get(lower(event.nick));
      channel.members.delete(lower(event.nick));
      this.toOccupants(channel, {
        nick: event.nick,
        modes: member?.modes ?? new Set(),
        unavailable: true,
        status: ircToXmpp(event.message),
      });
    });

    client.on('quit', (event) => {
      for (const channel of this.channels.values()) {
        const member = channel.members.get(lower(event.nick));
        if (member === undefined) continue;
        channel.members.delete(lower(event.nick));
        this.toOccupants(channel, {
          nick: member.nick,
          modes: member.modes,
          unavailable: true,
          status: ircToXmpp(event.message),
        });
      }
    });

    client.on('kick', (event) => {
      const channel = this.channels.get(channelKey(event.channel));
      if (channel === undefined) return;
      const self = lower(event.kicked) === lower(this.nick);
      const member = channel.members.get(lower(event.kicked));
      channel.members.delete(lower(event.kicked));
      // XEP-0045 §9.1: status 307 for a kick, with 110 to the kicked user.
      this.toOccupants(channel, {
        nick: event.kicked,
        modes: member?.modes ?? new Set(),
        unavailable: true,
        codes: [307],
        actor: event.nick,
        reason: ircToXmpp(event.message),
      });
      if (self) {
        this.channels.delete(channelKey(channel.name));
        this.ctx.forget(this.user, this.server, channel.name);
        this.lingerIfIdle();
      }
    });

    client.on('nick', (event) => {
      const self = lower(event.nick) === lower(this.nick);
      if (self) {
        this.nick = event.new_nick;
        this.pendingNickChange = undefined;
      }
      for (const channel of this.channels.values()) {
        const member = channel.members.get(lower(event.nick));
        if (member === undefined) continue;
        channel.members.delete(lower(event.nick));
        const renamed = { nick: event.new_nick, modes: member.modes };
        channel.members.set(lower(event.new_nick), renamed);
        // XEP-0045 §7.6: unavailable with 303 and the new nick, then available under it.
        this.toOccupants(channel, {
          nick: event.nick,
          modes: member.modes,
          unavailable: true,
          codes: [303],
          newNick: event.new_nick,
        });
        this.toOccupants(channel, renamed);
        if (self) this.persist(channel);
      }
    });

    client.on('mode', (event) => {
      const channel = this.channels.get(channelKey(event.target));
      if (channel === undefined) return;
      const changed = new Set<Member>();
      const bans = event.modes.filter((m) => m.mode.slice(1) === 'b' && m.param !== undefined);
      if (bans.length > 0 && channel.joined) {
        // No MUC presence says "this mask is banned"; biboumi's way is a message from the room.
        const text = `${event.nick} sets mode ${bans.map((b) => `${b.mode} ${b.param ?? ''}`).join(' ')}`;
        for (const resource of channel.resources) this.ctx.send(groupchat(channel.jid, resource, text));
      }
      for (const change of event.modes) {
        const letter = change.mode.slice(1);
        if (!MEMBER_MODES.has(letter) || change.param === undefined) continue;
        const member = channel.members.get(lower(change.param));
        if (member === undefined) continue;
        if (change.mode.startsWith('+')) member.modes.add(letter);
        else member.modes.delete(letter);
        changed.add(member);
      }
      // XEP-0045 §9.6: a role change is a new presence of the occupant.
      for (const member of changed) this.toOccupants(channel, member);
    });

    client.on('topic', (event) => {
      const channel = this.channels.get(channelKey(event.channel));
      if (channel === undefined) return;
      channel.topic = ircToStyled(event.topic);
      if (!channel.joined) return; // sent with the join (332 comes before NAMES)
      const from = event.nick === undefined ? channel.jid : `${channel.jid}/${event.nick}`;
      for (const resource of channel.resources) this.ctx.send(subjectMessage(from, resource, channel.topic));
    });

    // Away status of IRC users: WHO flags after a join, RPL_AWAY when we message them, and
    // away-notify (IRCv3) AWAY lines where the server offers it.
    client.on('wholist', (event) => {
      const channel = this.channels.get(channelKey(event.target));
      if (channel === undefined) return;
      for (const user of event.users) {
        const member = channel.members.get(lower(user.nick));
        if (member === undefined || lower(user.nick) === lower(this.nick)) continue;
        if (user.away && member.away === undefined) this.memberAway(user.nick, '', [channel]);
        if (!user.away && member.away !== undefined) this.memberAway(user.nick, undefined, [channel]);
      }
    });
    client.on('away', (event) => {
      if (event.self) return;
      this.memberAway(event.nick, event.message, [...this.channels.values()]);
    });
    client.on('back', (event) => {
      if (event.self) return;
      this.memberAway(event.nick, undefined, [...this.channels.values()]);
    });

    // RFC 2812 §3.2.7 → XEP-0249 §2: a direct invitation from the inviter's JID.
    client.on('invite', (event) => {
      if (lower(event.invited) !== lower(this.nick)) return;
      this.ctx.send(
        directInvite(
          userJid(event.nick, this.server, this.ctx.domain),
          this.user,
          channelJid(event.channel, this.server, this.ctx.domain),
          `${event.nick} invites you to ${event.channel}`,
        ),
      );
    });

    client.on('banlist', (event) => {
      const key = channelKey(event.channel);
      for (const finish of [...(this.banWaiters.get(key) ?? [])]) finish(event.bans.map((b) => b.banned));
    });

    client.on('privmsg', (event) => this.fromIrc(event, false));
    client.on('action', (event) => this.fromIrc(event, true));
    client.on('notice', (event) => {
      if (event.from_server === true || event.nick === '' || event.nick === undefined) return;
      this.fromIrc(event, false);
    });

    client.on('channel list', (entries) => this.listBuffer.push(...entries));
    client.on('channel list end', () => {
      const entries = this.listBuffer;
      this.listBuffer = [];
      for (const finish of [...this.listWaiters]) finish(entries);
    });

    client.on('irc error', (event) => {
      const condition = JOIN_ERRORS[event.error];
      if (condition === undefined || event.channel === undefined) {
        this.ctx.logger.debug({ error: event.error, server: this.server }, 'irc error');
        return;
      }
      const channel = this.channels.get(channelKey(event.channel));
      if (channel === undefined || channel.joined) return;
      for (const [resource, waiting] of channel.waiting)
        this.failJoin(channel, resource, waiting.stanza, condition, event.reason);
      channel.waiting.clear();
      this.channels.delete(channelKey(channel.name));
      this.ctx.forget(this.user, this.server, channel.name);
      this.lingerIfIdle();
    });
  }

  private fromIrc(event: MessageEvent, action: boolean): void {
    const text = ircToStyled(event.message);
    const body = action ? `/me ${text}` : text;
    const channel = this.channels.get(channelKey(event.target));
    if (channel !== undefined) {
      for (const resource of channel.resources)
        this.ctx.send(groupchat(`${channel.jid}/${event.nick}`, resource, body));
      return;
    }
    if (lower(event.target) !== lower(this.nick)) return;
    const viaRoom = this.privateRoutes.get(lower(event.nick));
    const room =
      viaRoom === undefined || viaRoom === null ? undefined : this.channels.get(channelKey(viaRoom));
    if (room !== undefined && room.resources.size > 0) {
      // XEP-0045 §7.5: a private message from an occupant.
      for (const resource of room.resources) {
        this.ctx.send(
          xml(
            'message',
            { from: `${room.jid}/${event.nick}`, to: resource, type: 'chat' },
            xml('body', {}, body),
            xml('x', { xmlns: NS_MUC_USER }),
          ),
        );
      }
      return;
    }
    this.ctx.send(
      xml(
        'message',
        { from: userJid(event.nick, this.server, this.ctx.domain), to: this.user, type: 'chat' },
        xml('body', {}, body),
      ),
    );
  }

  // ---- the MUC view ----

  private completeJoin(channel: Channel): void {
    channel.joined = true;
    for (const [resource, waiting] of channel.waiting) {
      channel.resources.add(resource);
      this.sendJoinedState(channel, resource, waiting.requestedNick);
      if (channel.rejoinReason !== undefined) {
        this.ctx.send(
          groupchat(
            channel.jid,
            resource,
            `${channel.rejoinReason}; you have been joined to ${channel.name} again.`,
          ),
        );
      }
    }
    channel.waiting.clear();
    channel.rejoinReason = undefined;
    this.persist(channel);
    // NAMES has no away flags; WHO does (RFC 2812 §3.6.1, H/G).
    this.say(`WHO ${channel.name}`);
  }

  /** XEP-0045 §7.2.3–§7.2.15: the other occupants, then self-presence with 110, then the subject. */
  private sendJoinedState(channel: Channel, resource: string, requestedNick: string): void {
    let self: Member | undefined;
    for (const member of channel.members.values()) {
      if (lower(member.nick) === lower(this.nick)) {
        self = member;
        continue;
      }
      this.ctx.send(
        occupantPresence({
          from: `${channel.jid}/${member.nick}`,
          to: resource,
          modes: member.modes,
          away: member.away,
        }),
      );
    }
    const codes = requestedNick === this.nick ? [110] : [110, 210];
    this.ctx.send(
      occupantPresence({
        from: `${channel.jid}/${this.nick}`,
        to: resource,
        modes: self?.modes ?? new Set(),
        codes,
      }),
    );
    this.ctx.send(subjectMessage(channel.jid, resource, channel.topic));
  }

  private toOccupants(
    channel: Channel,
    p: Omit<OccupantPresence, 'from' | 'to'> & { readonly nick: string },
  ): void {
    const self =
      lower(p.nick) === lower(this.nick) ||
      (p.newNick !== undefined && lower(p.newNick) === lower(this.nick));
    const codes = self ? [...(p.codes ?? []), 110] : p.codes;
    for (const resource of channel.resources) {
      this.ctx.send(
        occupantPresence({
          ...p,
          from: `${channel.jid}/${p.nick}`,
          to: resource,
          ...(codes === undefined ? {} : { codes }),
        }),
      );
    }
  }

  private failWaiting(condition: StanzaErrorCondition, text: string): void {
    for (const stanza of this.unsentMessages.splice(0)) {
      this.ctx.send(
        xml(
          'message',
          { from: stanza.attrs['to'], to: stanza.attrs['from'], id: stanza.attrs['id'], type: 'error' },
          new StanzaError(condition, text).toElement(),
        ),
      );
    }
    for (const channel of this.channels.values()) {
      for (const [resource, waiting] of channel.waiting)
        this.failJoin(channel, resource, waiting.stanza, condition, text);
      channel.waiting.clear();
    }
  }

  private failJoin(
    channel: Channel,
    resource: string,
    stanza: Element | null,
    condition: StanzaErrorCondition,
    text: string | undefined,
  ): void {
    const error = new StanzaError(condition, text);
    this.ctx.send(
      xml(
        'presence',
        {
          from: stanza?.attrs['to'] ?? `${channel.jid}/${this.nick}`,
          to: resource,
          id: stanza?.attrs['id'],
          type: 'error',
        },
        xml('x', { xmlns: 'http://jabber.org/protocol/muc' }),
        error.toElement(),
      ),
    );
  }

  private failNickChange(condition: StanzaErrorCondition): void {
    const pending = this.pendingNickChange;
    if (pending === undefined) return;
    this.pendingNickChange = undefined;
    // XEP-0045 §7.6: a taken nick is a presence error from the new occupant JID.
    this.ctx.send(
      xml(
        'presence',
        { from: pending.from, to: pending.to, id: pending.stanza.attrs['id'], type: 'error' },
        xml('x', { xmlns: 'http://jabber.org/protocol/muc' }),
        new StanzaError(condition).toElement(),
      ),
    );
  }

  // ---- plumbing ----

  private channel(name: string): Channel {
    const key = channelKey(name);
    let channel = this.channels.get(key);
    if (channel === undefined) {
      channel = {
        name,
        jid: channelJid(name, this.server, this.ctx.domain),
        joined: false,
        joinSent: false,
        members: new Map(),
        topic: '',
        resources: new Set(),
        waiting: new Map(),
        rejoinReason: undefined,
      };
      this.channels.set(key, channel);
    }
    return channel;
  }

  private member(member: UserlistMember): Member {
    return { nick: member.nick, modes: new Set(member.modes) };
  }

  private sendJoin(channel: Channel): void {
    if (channel.joinSent || this.state !== 'registered') return;
    channel.joinSent = true;
    channel.joined = false;
    this.say(`JOIN ${channel.name}`);
  }

  private persist(channel: Channel): void {
    const resources = [...channel.resources, ...channel.waiting.keys()];
    if (resources.length === 0) return;
    this.ctx.persist({
      user: this.user,
      server: this.server,
      channel: channel.name,
      nick: this.nick,
      resources,
    });
  }

  private hasResource(resource: string): boolean {
    for (const channel of this.channels.values())
      if (channel.resources.has(resource) || channel.waiting.has(resource)) return true;
    return false;
  }

  /** Sends AWAY when the resources in rooms turned all away, or no longer are. */
  private updateAway(): void {
    const inRooms = new Set<string>();
    for (const channel of this.channels.values())
      for (const resource of [...channel.resources, ...channel.waiting.keys()]) inRooms.add(resource);
    const away = [...inRooms].map((r) => this.awayResources.get(r));
    const message = away.length > 0 && away.every((m) => m !== undefined) ? away[away.length - 1] : undefined;
    if (message === this.awayMessage) return;
    this.awayMessage = message;
    if (this.state !== 'registered') return; // sent once registered
    this.writeNow(message === undefined ? 'AWAY' : `AWAY :${safeTrailing(message)}`);
  }

  /** An IRC user went away (`message`) or came back (undefined): their occupant presence says so. */
  private memberAway(nick: string, message: string | undefined, channels: readonly Channel[]): void {
    const text = message === undefined ? undefined : ircToXmpp(message);
    for (const channel of channels) {
      const member = channel.members.get(lower(nick));
      if (member === undefined || member.away === text) continue;
      member.away = text;
      if (channel.joined) this.toOccupants(channel, member);
    }
  }

  private hasRestored(): boolean {
    for (const channel of this.channels.values()) if (channel.rejoinReason !== undefined) return true;
    return false;
  }

  /** Queues a raw line behind flood control, or until registration completes. */
  private say(line: string): void {
    if (this.state !== 'registered') {
      this.beforeRegistration.push(line);
      return;
    }
    this.writeNow(line);
  }

  private writeNow(line: string): void {
    // Nothing we write may hold a line break: that would be a second command (RFC 2812 §2.3).
    if (/[\r\n\0]/.test(line)) throw new Error('refusing an IRC line with CR, LF or NUL');
    if (this.writer?.send(line) === false)
      this.ctx.logger.warn({ server: this.server }, 'irc send queue full; line dropped');
  }

  private scheduleReconnect(): void {
    this.state = 'reconnecting';
    for (const channel of this.channels.values()) {
      channel.joined = false;
      channel.joinSent = false;
      channel.members.clear();
    }
    const { initialMs, maxMs } = this.tuning.reconnect;
    const ceiling = Math.min(maxMs, initialMs * 2 ** this.attempt);
    // Full jitter spreads the reconnects of many users after a netsplit.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt += 1;
    this.ctx.logger.info(
      { server: this.server, user: this.user, delay, attempt: this.attempt },
      'irc reconnect scheduled',
    );
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.state === 'closed') return;
      this.client?.removeAllListeners();
      this.open();
    }, delay);
  }

  private lingerIfIdle(): void {
    if (this.channels.size > 0 || this.listWaiters.length > 0 || this.state === 'closed') return;
    this.cancelLinger();
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      if (this.channels.size === 0 && this.listWaiters.length === 0) void this.close('');
    }, this.tuning.lingerMs);
  }

  private cancelLinger(): void {
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
  }

  private clearTimers(): void {
    this.cancelLinger();
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }
}

/** XEP-0045 §7.2.6–§7.2.9 conditions for the IRC join errors (RFC 2812 §5.2 471/473/474/475). */
const JOIN_ERRORS: Readonly<Record<string, StanzaErrorCondition>> = {
  channel_is_full: 'service-unavailable',
  invite_only_channel: 'registration-required',
  banned_from_channel: 'forbidden',
  bad_channel_key: 'not-authorized',
  too_many_channels: 'resource-constraint',
};
