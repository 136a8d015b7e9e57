import { readFileSync } from 'node:fs';
import { StanzaError, errorReply } from '@switchboard/component';
import { tryParseJid, type Jid } from '@switchboard/jid';
import type { Logger } from '@switchboard/kit';
import { xml, type Element } from '@switchboard/xml';
import { channelJid, isNick, parseLocal, serverJid, userJid, type IrcAddress } from '../address.js';
import { styledToIrc } from '../irc/styling.js';
import { meAction } from '../irc/text.js';
import type { Membership, Memberships, ServerSettings } from '../persistence/memberships.js';
import type { Transport } from '../transports/index.js';
import type { ConnectionLeases } from '../cluster/ownership.js';
import { NS_CONFERENCE, NS_MUC, NS_MUC_ADMIN, NS_MUC_USER } from './muc.js';
import { IrcSession, type ServerConnection, type SessionTuning } from './session.js';

const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
const NS_COMMANDS = 'http://jabber.org/protocol/commands';
const NS_DATA = 'jabber:x:data';
const NS_PING = 'urn:xmpp:ping';
const NS_STYLING = 'urn:xmpp:styling:0';
const CONFIGURE_NODE = 'configure';

/** How the gateway reaches IRC servers (config `servers`, `insecureServers`, …). */
export interface ServerPolicy {
  /** Port and TLS when a server has no entry of its own. */
  readonly defaultPort: number;
  readonly defaultTls: boolean;
  readonly servers: Readonly<
    Record<
      string,
      {
        readonly port?: number;
        readonly tls?: boolean;
        /** PEM files presented over TLS, for SASL EXTERNAL. */
        readonly clientCertificate?: { readonly certFile: string; readonly keyFile: string };
      }
    >
  >;
  /** Servers whose TLS certificate is not verified (self-signed test networks). */
  readonly insecureServers: readonly string[];
  /** When set, only these servers may be reached. */
  readonly allowedServers?: readonly string[];
  /** Most XMPP users connected to one IRC server through this gateway. */
  readonly maxUsersPerServer: number;
  readonly realname: string;
}

export interface IrcGatewayOptions {
  readonly domain: string;
  readonly transport: Transport;
  readonly memberships: Memberships;
  readonly logger: Logger;
  readonly policy: ServerPolicy;
  readonly tuning: SessionTuning;
  readonly name?: string;
  /**
   * Across replicas: a user's connections open only once this replica holds the user's lease,
   * and the lease goes back after the last one QUIT, so a handover is release-then-connect.
   */
  readonly leases?: ConnectionLeases;
}

/**
 * The translation between XMPP (XEP-0045 rooms, XEP-0030, XEP-0050) and IRC
 * connections, one IrcSession per (user bare JID, IRC server).
 */
export class IrcGateway {
  private readonly sessions = new Map<string, IrcSession>();
  private output: Promise<void> = Promise.resolve();
  private stopping = false;
  private idleWaiters: (() => void)[] = [];
  /** Lease releases under way, awaited by release() and stop() so a handover is ordered. */
  private readonly leaseReleases = new Set<Promise<void>>();
  private readonly certificates = new Map<
    string,
    { readonly certificate: string; readonly privateKey: string }
  >();

  constructor(private readonly options: IrcGatewayOptions) {}

  get domain(): string {
    return this.options.domain;
  }

  /** Sessions open now, for metrics and tests. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Resolves once no IRC connection is open (the last one quit after its linger). */
  whenIdle(): Promise<void> {
    if (this.sessions.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Reconnects and rejoins what was joined before the last stop (persistence), for the users
   * `owns` picks (connection ownership across replicas) that have no connection here yet.
   */
  async restore(
    owns: (user: string) => boolean = () => true,
    reason = 'The IRC gateway restarted',
  ): Promise<number> {
    const memberships = await this.options.memberships.all();
    const byConnection = new Map<string, Membership[]>();
    for (const m of memberships) {
      const key = sessionKey(m.user, m.server);
      if (!owns(m.user) || this.sessions.has(key)) continue;
      byConnection.set(key, [...(byConnection.get(key) ?? []), m]);
    }
    // In parallel: each may wait for another replica to hand its user over.
    const results = await Promise.allSettled(
      [...byConnection.values()].map(async (group) => {
        const first = group[0]!;
        const session = await this.openSession(first.user, first.server, first.nick);
        for (const m of group) session.restore(m, reason);
        session.connect();
      }),
    );
    for (const result of results) {
      if (result.status === 'rejected')
        this.options.logger.error({ err: result.reason }, 'restoring an IRC connection failed');
    }
    return byConnection.size;
  }

  /** Quits the connections of users this replica no longer owns; their new owner rejoins from the memberships. */
  async release(owns: (user: string) => boolean): Promise<void> {
    const moving = [...this.sessions.values()].filter((s) => !owns(s.user));
    await Promise.all(moving.map((s) => s.close('Moving to another gateway replica')));
    await Promise.all(this.leaseReleases);
  }

  /** Quits every IRC connection and keeps the memberships, to rejoin after the restart. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.sessions.values()].map((s) => s.close('Gateway shutting down')));
    await Promise.all(this.leaseReleases);
    await this.output;
  }

  async handleStanza(el: Element): Promise<void> {
    if (this.stopping) return;
    const from = tryParseJid(el.attrs['from'] ?? '');
    const to = tryParseJid(el.attrs['to'] ?? '');
    if (from === null || to === null || to.domain !== this.options.domain) return;
    try {
      const address = parseLocal(to.local);
      if (address === 'jid-malformed')
        throw new StanzaError('jid-malformed', 'Not a channel, nick or IRC server');
      switch (el.name) {
        case 'presence':
          return await this.presence(el, from, to, address);
        case 'message':
          return await this.message(el, from, to, address);
        case 'iq':
          return await this.iq(el, from, address);
      }
    } catch (error) {
      // Nothing here is safe to redo (a redelivered message would be said twice on IRC), so an
      // unexpected failure is answered, not thrown back for redelivery.
      if (!(error instanceof StanzaError)) {
        this.options.logger.error({ err: error, stanza: el.name }, 'handling a stanza failed');
      }
      // RFC 6120 §8.3.1: never answer an error with an error.
      const type = el.attrs['type'];
      if (type === 'error' || type === 'result' || (el.name === 'presence' && type === 'unavailable')) return;
      this.send(
        errorReply(el, error instanceof StanzaError ? error : new StanzaError('internal-server-error'), {
          mucJoin: true,
        }),
      );
    }
  }

  // ---- presence: joining and leaving rooms (XEP-0045 §7.2, §7.14) ----

  private async presence(el: Element, from: Jid, to: Jid, address: IrcAddress): Promise<void> {
    const type = el.attrs['type'];
    if (address.kind !== 'channel') {
      if (type === undefined) throw new StanzaError('service-unavailable');
      return;
    }
    const user = from.bare().toString();
    const resource = from.toString();
    const session = this.sessions.get(sessionKey(user, address.server));
    if (type === 'unavailable' || type === 'error') {
      session?.leave(resource, address.channel);
      return;
    }
    if (type !== undefined) return; // subscription requests and probes mean nothing to a room
    // XEP-0045 §7.2.1: no nick → jid-malformed; IRC nick rules → not-acceptable.
    if (to.resource === '') throw new StanzaError('jid-malformed', 'A nick is needed to join');
    if (!isNick(to.resource)) throw new StanzaError('not-acceptable', 'IRC does not accept this nick');
    const show = el.getChildText('show')?.trim();
    const status = el.getChildText('status');
    if (session !== undefined && !session.isClosed) {
      if (session.isIn(resource, address.channel)) {
        if (to.resource !== session.nick) {
          session.changeNick(resource, address.channel, to.resource, el);
          session.setPresence(resource, show, status);
          return;
        }
        // XEP-0045 §7.7: a presence change in the room, reflected; IRC's counterpart is AWAY.
        session.setPresence(resource, show, status, address.channel);
        return;
      }
      session.join(resource, address.channel, to.resource, el);
      session.setPresence(resource, show, status);
      return;
    }
    const opened = await this.openSession(user, address.server, to.resource);
    opened.join(resource, address.channel, to.resource, el);
    opened.setPresence(resource, show, status);
    opened.connect();
  }

  // ---- messages (XEP-0045 §7.4, §7.5, §8.1; direct chats) ----

  private async message(el: Element, from: Jid, to: Jid, address: IrcAddress): Promise<void> {
    const type = el.attrs['type'] ?? 'normal';
    if (type === 'error') return;
    const user = from.bare().toString();
    const body = el.getChildText('body');
    const action = body === undefined ? undefined : meAction(body);
    // XEP-0393 §6: <unstyled/> asks that the body's directives be taken literally.
    const styled = el.getChild('unstyled', NS_STYLING) === undefined;
    const irc = (text: string): string => (styled ? styledToIrc(text) : text);
    if (address.kind === 'channel') {
      const session = this.sessions.get(sessionKey(user, address.server));
      const joined = session?.isIn(from.toString(), address.channel) === true;
      if (to.resource !== '') {
        // XEP-0045 §7.5: a private message to an occupant.
        if (session === undefined || !joined) throw new StanzaError('not-acceptable', 'Join the room first');
        if (!isNick(to.resource)) throw new StanzaError('item-not-found');
        if (body !== undefined)
          session.privateMessage(to.resource, irc(action ?? body), action !== undefined, address.channel);
        return;
      }
      const invites = el.getChild('x', NS_MUC_USER)?.getChildren('invite') ?? [];
      if (invites.length > 0) {
        // XEP-0045 §7.8.2: a mediated invitation; occupants only.
        if (session === undefined || !joined) throw new StanzaError('not-acceptable', 'Join the room first');
        for (const invite of invites) this.invite(session, from, address, invite);
        return;
      }
      if (type !== 'groupchat')
        throw new StanzaError('bad-request', 'Only groupchat messages go to the room');
      // XEP-0045 §7.4: only occupants may speak.
      if (session === undefined || !joined) throw new StanzaError('not-acceptable', 'Join the room first');
      const subject = el.getChild('subject');
      if (subject !== undefined && body === undefined) {
        session.setSubject(address.channel, subject.getText());
        return;
      }
      if (body !== undefined)
        session.groupchat(
          address.channel,
          action ?? body,
          el.attrs['id'],
          action !== undefined,
          irc(action ?? body),
        );
      return;
    }
    if (address.kind === 'user') {
      const conference = el.getChild('x', NS_CONFERENCE);
      if (conference !== undefined) {
        // XEP-0249 §2: a direct invitation to an IRC user, to a channel of the same server.
        const room = tryParseJid(conference.attrs['jid'] ?? '');
        const target = room === null || room.domain !== this.options.domain ? null : parseLocal(room.local);
        if (
          target === null ||
          target === 'jid-malformed' ||
          target.kind !== 'channel' ||
          target.server !== address.server
        )
          throw new StanzaError('not-acceptable', 'Only channels of the same IRC server can be joined there');
        const session = this.sessions.get(sessionKey(user, address.server));
        if (session === undefined || !session.isIn(from.toString(), target.channel))
          throw new StanzaError('not-acceptable', 'Join the room first');
        session.invite(target.channel, address.nick);
        return;
      }
      if (body === undefined) return;
      let session = this.sessions.get(sessionKey(user, address.server));
      if (session === undefined || session.isClosed) {
        const settings = await this.options.memberships.settings(user, address.server);
        const nick = settings?.nick ?? nickFromJid(from);
        session = await this.openSession(user, address.server, nick);
        session.connect();
      }
      session.privateMessage(address.nick, irc(action ?? body), action !== undefined, null, el);
      return;
    }
    throw new StanzaError('service-unavailable');
  }

  // ---- iq: disco, ad-hoc commands, MUC admin, ping ----

  private async iq(el: Element, from: Jid, address: IrcAddress): Promise<void> {
    const type = el.attrs['type'];
    if (type === 'result' || type === 'error') return;
    const payload = el.getChildElements()[0];
    if (payload === undefined) throw new StanzaError('bad-request');
    const ns = payload.getNS();
    const reply = (...children: Element[]): void =>
      this.send(
        xml(
          'iq',
          { from: el.attrs['to'], to: el.attrs['from'], id: el.attrs['id'], type: 'result' },
          ...children,
        ),
      );

    if (type === 'get' && ns === NS_DISCO_INFO) return reply(this.discoInfo(address, payload.attrs['node']));
    if (type === 'get' && ns === NS_DISCO_ITEMS)
      return reply(await this.discoItems(from, address, payload.attrs['node']));
    if (type === 'get' && ns === NS_PING && address.kind === 'gateway') return reply();
    if (type === 'get' && ns === NS_PING && address.kind === 'channel') {
      // XEP-0410 §3: MUC self-ping tells a client whether it is still joined.
      const session = this.sessions.get(sessionKey(from.bare().toString(), address.server));
      if (session?.isIn(from.toString(), address.channel) !== true) throw new StanzaError('not-acceptable');
      return reply();
    }
    if (type === 'set' && ns === NS_COMMANDS && address.kind === 'server') {
      return reply(await this.configureCommand(from, address.server, payload));
    }
    if (type === 'set' && ns === NS_MUC_ADMIN && address.kind === 'channel') {
      const session = this.sessions.get(sessionKey(from.bare().toString(), address.server));
      if (session === undefined || !session.isIn(from.toString(), address.channel))
        throw new StanzaError('not-acceptable');
      for (const item of payload.getChildElements()) {
        const nick = item.attrs['nick'] ?? this.nickOf(item.attrs['jid'], address.server);
        const role = item.attrs['role'];
        const affiliation = item.attrs['affiliation'];
        if (item.name !== 'item' || nick === undefined || (role === undefined && affiliation === undefined))
          throw new StanzaError('bad-request');
        // XEP-0045 §9.1 ban (outcast) and §9.2 unban (none) as ban masks; other affiliations
        // have no IRC counterpart beyond the channel modes a role change sets.
        let error: StanzaError | null = null;
        if (affiliation === 'outcast' || affiliation === 'none')
          error = session.setBan(address.channel, nick, affiliation === 'outcast');
        else if (affiliation !== undefined) error = new StanzaError('not-allowed');
        if (error === null && role !== undefined)
          error = session.setRole(address.channel, nick, role, item.getChildText('reason'));
        if (error !== null) throw error;
      }
      return reply();
    }
    if (type === 'get' && ns === NS_MUC_ADMIN && address.kind === 'channel') {
      // XEP-0045 §9.3: the ban list, from the channel's ban masks; a `nick!*@*` mask is that IRC user.
      const session = this.sessions.get(sessionKey(from.bare().toString(), address.server));
      if (session === undefined || !session.isIn(from.toString(), address.channel))
        throw new StanzaError('not-acceptable');
      const wanted = payload.getChild('item')?.attrs['affiliation'];
      if (wanted !== 'outcast') throw new StanzaError('feature-not-implemented');
      const masks = await session.banList(address.channel);
      return reply(
        xml(
          'query',
          { xmlns: NS_MUC_ADMIN },
          ...masks.flatMap((mask) => {
            const nick = /^([^!@*?]+)!\*@\*$/.exec(mask)?.[1];
            if (nick === undefined || !isNick(nick)) return [];
            return [
              xml('item', {
                affiliation: 'outcast',
                jid: userJid(nick, address.server, this.options.domain),
              }),
            ];
          }),
        ),
      );
    }
    throw new StanzaError('service-unavailable');
  }

  /** The IRC nick a JID of this gateway stands for (`nick%server@irc.<domain>`), on `server`. */
  private nickOf(jid: string | undefined, server: string): string | undefined {
    const parsed = tryParseJid(jid ?? '');
    if (parsed === null || parsed.domain !== this.options.domain) return undefined;
    const address = parseLocal(parsed.local);
    return address !== 'jid-malformed' && address.kind === 'user' && address.server === server
      ? address.nick
      : undefined;
  }

  /**
   * XEP-0045 §7.8.2: an IRC user (a JID of this gateway) is INVITEd; anyone else gets the
   * invitation from the room, as a MUC service passes it on.
   */
  private invite(
    session: IrcSession,
    from: Jid,
    address: { channel: string; server: string },
    invite: Element,
  ): void {
    const to = invite.attrs['to'];
    if (to === undefined || tryParseJid(to) === null) throw new StanzaError('jid-malformed');
    const nick = this.nickOf(to, address.server);
    if (nick !== undefined) {
      session.invite(address.channel, nick);
      return;
    }
    const room = channelJid(address.channel, address.server, this.options.domain);
    const reason = invite.getChildText('reason');
    this.send(
      xml(
        'message',
        { from: room, to },
        xml(
          'x',
          { xmlns: NS_MUC_USER },
          xml(
            'invite',
            { from: from.bare().toString() },
            reason === undefined ? null : xml('reason', {}, reason),
          ),
        ),
      ),
    );
  }

  private discoInfo(address: IrcAddress, node: string | undefined): Element {
    const features = (names: string[]): Element[] => names.map((v) => xml('feature', { var: v }));
    const query = (...children: Element[]): Element =>
      xml('query', { xmlns: NS_DISCO_INFO, node }, ...children);
    switch (address.kind) {
      case 'gateway':
        // XEP-0030 §3.1; biboumi's identity.
        return query(
          xml('identity', { category: 'conference', type: 'irc', name: this.options.name ?? 'IRC gateway' }),
          ...features([
            NS_DISCO_INFO,
            NS_DISCO_ITEMS,
            NS_MUC,
            NS_COMMANDS,
            NS_PING,
            'jabber:iq:version',
            // XEP-0249 §3 direct invitations; XEP-0393 §4 message styling.
            NS_CONFERENCE,
            NS_STYLING,
          ]),
        );
      case 'server':
        return query(
          xml('identity', { category: 'conference', type: 'irc', name: address.server }),
          ...features([NS_DISCO_INFO, NS_DISCO_ITEMS, NS_COMMANDS]),
        );
      case 'channel':
        // XEP-0045 §6.4: IRC channels are public and open.
        return query(
          xml('identity', { category: 'conference', type: 'text', name: address.channel }),
          ...features([
            NS_DISCO_INFO,
            NS_MUC,
            'muc_public',
            'muc_open',
            // Occupants see nicks, never real JIDs; a channel ends when its last member leaves.
            'muc_semianonymous',
            'muc_unmoderated',
            'muc_temporary',
          ]),
        );
      case 'user':
        return query(
          xml('identity', { category: 'client', type: 'pc', name: address.nick }),
          ...features([NS_DISCO_INFO, NS_CONFERENCE]),
        );
    }
  }

  private async discoItems(from: Jid, address: IrcAddress, node: string | undefined): Promise<Element> {
    const query = (...children: Element[]): Element =>
      xml('query', { xmlns: NS_DISCO_ITEMS, node }, ...children);
    if (address.kind !== 'server') return query();
    if (node === NS_COMMANDS) {
      // XEP-0050 §2.2: the commands of this IRC server.
      return query(
        xml('item', {
          jid: serverJid(address.server, this.options.domain),
          node: CONFIGURE_NODE,
          name: 'Configure this IRC server',
        }),
      );
    }
    if (node !== undefined) throw new StanzaError('item-not-found');
    const user = from.bare().toString();
    let session = this.sessions.get(sessionKey(user, address.server));
    if (session === undefined || session.isClosed) {
      const settings = await this.options.memberships.settings(user, address.server);
      session = await this.openSession(user, address.server, settings?.nick ?? nickFromJid(from));
      session.connect();
    }
    const entries = await session.list();
    return query(
      ...entries.map((entry) =>
        xml('item', {
          jid: channelJid(entry.channel, address.server, this.options.domain),
          name: `${entry.channel} (${entry.num_users})`,
        }),
      ),
    );
  }

  /** XEP-0050: a one-stage form for the user's nick, SASL PLAIN credentials and after-connect commands. */
  private async configureCommand(from: Jid, server: string, command: Element): Promise<Element> {
    if (command.attrs['node'] !== CONFIGURE_NODE) throw new StanzaError('item-not-found');
    const user = from.bare().toString();
    const action = command.attrs['action'] ?? 'execute';
    const sessionid = command.attrs['sessionid'] ?? `${Date.now().toString(36)}`;
    const done = (status: 'completed' | 'canceled', ...children: Element[]): Element =>
      xml('command', { xmlns: NS_COMMANDS, node: CONFIGURE_NODE, sessionid, status }, ...children);
    if (action === 'cancel') return done('canceled');
    const form = command.getChild('x', NS_DATA);
    const current = (await this.options.memberships.settings(user, server)) ?? {};
    if (form === undefined || form.attrs['type'] !== 'submit') {
      return xml(
        'command',
        { xmlns: NS_COMMANDS, node: CONFIGURE_NODE, sessionid, status: 'executing' },
        xml('actions', { execute: 'complete' }, xml('complete')),
        configureForm(server, current),
      );
    }
    const values = new Map<string, string[]>();
    for (const field of form.getChildElements()) {
      const name = field.attrs['var'];
      if (field.name !== 'field' || name === undefined) continue;
      values.set(
        name,
        field
          .getChildElements()
          .filter((c) => c.name === 'value')
          .map((v) => v.getText()),
      );
    }
    const one = (name: string): string | undefined => {
      const value = values.get(name)?.[0]?.trim();
      return value === undefined || value === '' ? undefined : value;
    };
    const nick = one('nick');
    if (nick !== undefined && !isNick(nick))
      throw new StanzaError('not-acceptable', 'IRC does not accept this nick');
    const afterConnect = (values.get('after_connect_commands') ?? [])
      .flatMap((v) => v.split(/\r\n|\r|\n/))
      .map((line) => line.trim())
      .filter((line) => line !== '');
    const settings: ServerSettings = {
      ...(nick === undefined ? {} : { nick }),
      ...(one('sasl_username') === undefined ? {} : { saslUsername: one('sasl_username')! }),
      ...(one('sasl_password') === undefined ? {} : { saslPassword: one('sasl_password')! }),
      ...(afterConnect.length === 0 ? {} : { afterConnect }),
    };
    await this.options.memberships.putSettings(user, server, settings);
    return done(
      'completed',
      xml('note', { type: 'info' }, 'Saved; the settings apply from the next connection to this server.'),
    );
  }

  // ---- sessions ----

  private async openSession(user: string, server: string, nick: string): Promise<IrcSession> {
    const { policy } = this.options;
    if (policy.allowedServers !== undefined && !policy.allowedServers.includes(server)) {
      throw new StanzaError('not-allowed', `This gateway does not connect to ${server}`);
    }
    let users = 0;
    for (const session of this.sessions.values()) if (session.server === server) users += 1;
    if (users >= policy.maxUsersPerServer) {
      throw new StanzaError('service-unavailable', `Too many users of this gateway on ${server}`);
    }
    const { leases } = this.options;
    if (leases !== undefined && !this.hasSessionOf(user)) {
      if ((await leases.acquire(user)) === 'forced')
        this.options.logger.warn({ user }, 'took over an IRC connection lease the previous replica kept');
      // Another stanza may have opened it while this one waited.
      const opened = this.sessions.get(sessionKey(user, server));
      if (opened !== undefined && !opened.isClosed) return opened;
    }
    const settings = await this.options.memberships.settings(user, server);
    const entry = policy.servers[server] ?? {};
    const certificate =
      entry.clientCertificate === undefined ? undefined : this.certificate(entry.clientCertificate);
    const connection: ServerConnection = {
      ...(certificate === undefined ? {} : { clientCertificate: certificate }),
      host: server,
      port: entry.port ?? policy.defaultPort,
      tls: entry.tls ?? policy.defaultTls,
      verifyCertificate: !policy.insecureServers.includes(server),
      afterConnect: settings?.afterConnect ?? [],
      realname: policy.realname,
      ...(settings?.saslUsername === undefined
        ? {}
        : { sasl: { username: settings.saslUsername, password: settings.saslPassword ?? '' } }),
    };
    const session = new IrcSession(user, server, nick, connection, this.options.tuning, {
      domain: this.options.domain,
      logger: this.options.logger,
      send: (stanza) => this.send(stanza),
      persist: (membership) =>
        this.background(this.options.memberships.put(membership), 'saving a membership'),
      forget: (u, s, channel) =>
        this.background(this.options.memberships.remove(u, s, channel), 'removing a membership'),
      closed: (closed, quit) => {
        const key = sessionKey(closed.user, closed.server);
        if (this.sessions.get(key) === closed) this.sessions.delete(key);
        if (leases !== undefined) this.releaseAfter(closed.user, quit, leases);
        if (this.sessions.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
      },
    });
    this.sessions.set(sessionKey(user, server), session);
    return session;
  }

  /** A client certificate's PEM files, read once (the process restarts to pick up a new one). */
  private certificate(files: { readonly certFile: string; readonly keyFile: string }): {
    readonly certificate: string;
    readonly privateKey: string;
  } {
    const key = `${files.certFile}\u0000${files.keyFile}`;
    let loaded = this.certificates.get(key);
    if (loaded === undefined) {
      loaded = {
        certificate: readFileSync(files.certFile, 'utf8'),
        privateKey: readFileSync(files.keyFile, 'utf8'),
      };
      this.certificates.set(key, loaded);
    }
    return loaded;
  }

  private hasSessionOf(user: string): boolean {
    for (const session of this.sessions.values()) if (session.user === user && !session.isClosed) return true;
    return false;
  }

  /** Gives the user's lease back once the QUIT went out, unless a new connection was opened meanwhile. */
  private releaseAfter(user: string, quit: Promise<void>, leases: ConnectionLeases): void {
    const work = quit
      .then(() => (this.hasSessionOf(user) ? undefined : leases.release(user)))
      .catch((error: unknown) =>
        this.options.logger.warn({ err: error, user }, 'releasing an IRC connection lease failed'),
      )
      .finally(() => this.leaseReleases.delete(work));
    this.leaseReleases.add(work);
  }

  private send(el: Element): void {
    // One chain keeps the stanzas of a room in the order IRC produced them.
    this.output = this.output
      .then(() => this.options.transport.send(el))
      .catch((error: unknown) => this.options.logger.warn({ err: error }, 'sending a stanza failed'));
  }

  private background(work: Promise<void>, what: string): void {
    work.catch((error: unknown) => this.options.logger.error({ err: error }, `${what} failed`));
  }
}

const sessionKey = (user: string, server: string): string => `${user}\u0000${server}`;

/** A default IRC nick for a user who has not joined a room: the localpart, made acceptable to IRC. */
function nickFromJid(jid: Jid): string {
  const cleaned = jid.local.replace(/[^A-Za-z0-9[\]\\`_^{|}-]/g, '').replace(/^[0-9-]+/, '');
  return cleaned === '' ? 'xmppuser' : cleaned.slice(0, 30);
}

function configureForm(server: string, current: ServerSettings): Element {
  const field = (type: string, name: string, label: string, values: readonly string[]): Element =>
    xml('field', { type, var: name, label }, ...values.map((v) => xml('value', {}, v)));
  return xml(
    'x',
    { xmlns: NS_DATA, type: 'form' },
    xml('title', {}, `Configure ${server}`),
    field('text-single', 'nick', 'Nickname', current.nick === undefined ? [] : [current.nick]),
    field(
      'text-single',
      'sasl_username',
      'SASL PLAIN username',
      current.saslUsername === undefined ? [] : [current.saslUsername],
    ),
    field('text-private', 'sasl_password', 'SASL PLAIN password', []),
    field(
      'text-multi',
      'after_connect_commands',
      'Raw IRC commands sent after connecting',
      current.afterConnect ?? [],
    ),
  );
}
