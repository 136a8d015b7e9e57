import { tryParseJid } from '@switchboard/jid';
import type { Logger } from '@switchboard/kit';
import { parseElement, xml, type Element } from '@switchboard/xml';
import type { Affiliation, MucStorage, Role, RoomConfig, RoomRecord } from '../storage/storage.js';
import { applyConfigForm, roomConfigForm } from './config-form.js';
import { handleMamQuery, mamQueryForm } from './mam.js';
import { NS } from './namespaces.js';
import { atLeast, defaultRole, type Occupant } from './occupant.js';
import { StanzaError, errorReply } from './stanza-error.js';

/** What a room needs from its service. */
export interface RoomContext {
  readonly storage: MucStorage;
  /** Sends without waiting: stanzas leave in call order; the promise settles when handed to the transport. */
  send(el: Element): Promise<void>;
  now(): number;
  newId(): string;
  readonly logger: Logger;
  /** History sent on join when the client asks for none in particular (XEP-0045 §7.2.14). */
  readonly historyDefault: number;
  /** Most history stanzas sent on join whatever the client asks. */
  readonly historyMax: number;
}

/** What handling one stanza did to the room, for the service's bookkeeping. */
export type RoomOutcome = 'active' | 'empty' | 'destroyed';

/** XEP-0045 §15.6 status codes used here. */
const Status = {
  nonAnonymous: '100',
  configChanged: '104',
  self: '110',
  logging: '170',
  loggingOff: '171',
  nowNonAnonymous: '172',
  nowSemiAnonymous: '173',
  created: '201',
  banned: '301',
  nickChanged: '303',
  kicked: '307',
  affiliationChange: '321',
  membersOnly: '322',
  shutdown: '332',
} as const;

const MAX_RELAYED_IQS = 1000;

/** Error conditions of a bounced message that mean the occupant's session no longer exists. */
const GONE: ReadonlySet<string> = new Set([
  'gone',
  'item-not-found',
  'recipient-unavailable',
  'redirect',
  'remote-server-not-found',
  'remote-server-timeout',
  'service-unavailable',
]);

/** MUC payloads the room writes itself; the occupant's copies are not broadcast. */
function isMucPayload(el: Element): boolean {
  const ns = el.getNS();
  return ns === NS.MUC || ns === NS.MUC_USER;
}

/**
 * One room (XEP-0045): its stored record and its occupants. The service calls
 * `handle` for one stanza at a time, so nothing here races (ARCHITECTURE.md:
 * each room's state has one writer).
 */
export class Room {
  readonly jid: string;
  private record: RoomRecord;
  /** Locked until the owner configures it (XEP-0045 §10.1.1); a locked room is not stored. */
  private locked: boolean;
  private readonly occupants = new Map<string, Occupant>();
  private readonly nickByJid = new Map<string, string>();
  private sent: Promise<void>[] = [];
  /** Our id of a relayed occupant iq → where its answer goes. */
  private readonly relayedIqs = new Map<
    string,
    { id: string; requester: string; responder: string; responderNick: string }
  >();

  constructor(
    private readonly ctx: RoomContext,
    record: RoomRecord,
    locked: boolean,
  ) {
    this.jid = record.jid;
    this.record = record;
    this.locked = locked;
  }

  get config(): RoomConfig {
    return this.record.config;
  }

  get occupantCount(): number {
    return this.occupants.size;
  }

  get isLocked(): boolean {
    return this.locked;
  }

  /** The room's visible subject, '' when none. */
  get subject(): string {
    return this.record.subject?.text ?? '';
  }

  affiliationOf(bare: string): Affiliation {
    return this.record.affiliations[bare] ?? 'none';
  }

  /**
   * Handles one stanza addressed to the room or one of its occupants; resolves once its replies
   * left. `key` identifies the stanza across redeliveries (the envelope id): it becomes the
   * archive id of a groupchat message, so a redelivered message is archived once.
   */
  handle(stanza: Element, nick: string, key?: string): Promise<RoomOutcome> {
    return this.run(stanza, nick, async () => {
      if (stanza.name === 'presence') return this.onPresence(stanza, nick);
      if (stanza.name === 'message') await this.onMessage(stanza, nick, key);
      else if (stanza.name === 'iq') return this.onIq(stanza, nick);
      return 'active';
    });
  }

  /** The creator's join of a new room (§10.1.1): owner, moderator, status 201. */
  create(stanza: Element, nick: string): Promise<RoomOutcome> {
    return this.run(stanza, nick, async () => {
      // An instant room of a client that does not speak MUC is stored at once; a locked one once configured.
      if (!this.locked) await this.ctx.storage.putRoom(this.record);
      const payload = stanza.getChildElements().filter((c) => !isMucPayload(c));
      await this.join(stanza, nick, stanza.attrs['from'] ?? '', payload, [Status.created]);
      return 'active';
    });
  }

  private async run(stanza: Element, nick: string, work: () => Promise<RoomOutcome>): Promise<RoomOutcome> {
    let outcome: RoomOutcome = 'active';
    try {
      outcome = await work();
    } catch (error) {
      if (!(error instanceof StanzaError)) throw error;
      const type = stanza.attrs['type'];
      // RFC 6120 §8.3.1: never answer an error with an error; iq results need no answer.
      if (type !== 'error' && type !== 'result') {
        this.emit(errorReply(stanza, error, nick === '' ? this.jid : `${this.jid}/${nick}`));
      }
    }
    const pending = this.sent;
    this.sent = [];
    await Promise.all(pending);
    if (outcome === 'active' && this.occupants.size === 0) outcome = 'empty';
    return outcome;
  }

  // ---- presence: join, change, nick change, leave (XEP-0045 §7.2, §7.6, §7.7, §7.14)

  private async onPresence(stanza: Element, nick: string): Promise<RoomOutcome> {
    const from = stanza.attrs['from'] ?? '';
    const type = stanza.attrs['type'];
    const current = this.occupantByJid(from);
    if (type === 'unavailable' || type === 'error') {
      // §7.14; an error from the occupant's client means it is gone (as Prosody treats it).
      if (current !== undefined && current.sessions.size > 1) this.removeSession(current, from);
      else if (current !== undefined) this.removeOccupant(current, [], null, stanza);
      return this.afterLeave();
    }
    if (type !== undefined) return 'active';
    if (nick === '') throw new StanzaError('jid-malformed', 'a room nickname is required'); // §7.2.1
    const payload = stanza.getChildElements().filter((c) => !isMucPayload(c));
    if (current === undefined) {
      await this.join(stanza, nick, from, payload, []);
      return 'active';
    }
    if (current.nick === nick) {
      // §7.7: changed availability goes to everyone.
      current.sessions.set(from, payload);
      current.jid = from;
      this.broadcastPresence(current, []);
      return 'active';
    }
    current.sessions.set(from, payload);
    this.changeNick(current, nick);
    return 'active';
  }

  /** Admits `from` as `nick` or throws the error §7.2 prescribes. */
  private async join(
    stanza: Element,
    nick: string,
    from: string,
    payload: readonly Element[],
    extraSelfStatus: readonly string[],
  ): Promise<void> {
    const bare = bareOf(from);
    const affiliation = this.affiliationOf(bare);
    const config = this.record.config;
    if (this.locked && affiliation !== 'owner')
      throw new StanzaError('item-not-found', 'the room is locked until its owner configures it'); // §10.1.1
    if (affiliation === 'outcast') throw new StanzaError('forbidden', 'you are banned from this room'); // §7.2.7
    if (config.membersOnly && !atLeast(affiliation, 'member'))
      throw new StanzaError('registration-required', 'this room is members-only'); // §7.2.8
    const holder = this.occupants.get(nick);
    if (holder !== undefined && holder.bare !== bare)
      throw new StanzaError('conflict', 'that nickname is in use'); // §7.2.9
    if (
      holder === undefined &&
      config.maxUsers > 0 &&
      this.occupants.size >= config.maxUsers &&
      !atLeast(affiliation, 'admin')
    )
      throw new StanzaError('service-unavailable', 'the room is full'); // §7.2.10
    if (config.password !== '' && !atLeast(affiliation, 'owner')) {
      const given = stanza.getChild('x', NS.MUC)?.getChildText('password');
      if (given !== config.password) throw new StanzaError('not-authorized', 'a password is required'); // §7.2.6
    }
    const selfStatus = [...extraSelfStatus];
    if (config.whois === 'anyone') selfStatus.push(Status.nonAnonymous); // §7.2.4
    if (config.logging) selfStatus.push(Status.logging); // §7.2.12
    const history = stanza.getChild('x', NS.MUC)?.getChild('history');
    if (holder !== undefined) {
      // Another session of the same user joins under its nick: only that session hears the room's state.
      holder.sessions.set(from, [...payload]);
      holder.jid = from;
      this.nickByJid.set(from, nick);
      for (const other of this.occupants.values())
        if (other !== holder) this.emitToJid(from, this.presenceOf(other, holder, []));
      this.emitToJid(from, this.presenceOf(holder, holder, [], undefined, selfStatus));
      await this.sendHistory(from, history);
      this.sendSubject(from);
      return;
    }
    const occupant: Occupant = {
      nick,
      jid: from,
      bare,
      role: defaultRole(affiliation, config.moderated),
      sessions: new Map([[from, [...payload]]]),
    };
    // §7.2.3: first the presence of everyone already there, then the newcomer's own to all.
    for (const other of this.occupants.values()) this.emitTo(occupant, this.presenceOf(other, occupant, []));
    this.occupants.set(nick, occupant);
    this.nickByJid.set(from, nick);
    this.broadcastPresence(occupant, [], selfStatus);
    await this.sendHistory(from, history);
    this.sendSubject(from); // §7.2.15
  }

  private changeNick(occupant: Occupant, nick: string): void {
    if (this.occupants.has(nick)) throw new StanzaError('conflict', 'that nickname is in use'); // §7.6.2
    // §7.6.1: unavailable with 303 and the new nick, then available under the new nick.
    for (const viewer of this.occupants.values()) {
      const presence = this.presenceOf(occupant, viewer, [Status.nickChanged], 'unavailable');
      presence.getChild('x', NS.MUC_USER)?.getChild('item')?.setAttr('nick', nick);
      this.emitTo(viewer, presence);
    }
    this.occupants.delete(occupant.nick);
    const renamed: Occupant = { ...occupant, nick };
    this.occupants.set(nick, renamed);
    for (const jid of renamed.sessions.keys()) this.nickByJid.set(jid, nick);
    this.broadcastPresence(renamed, []);
  }

  /** Removes an occupant and tells everyone, the occupant included (§7.14, §8.2, §9.1). */
  private removeOccupant(
    occupant: Occupant,
    status: readonly string[],
    extra: { actor?: string; reason?: string } | null,
    leavePresence?: Element,
  ): void {
    for (const viewer of this.occupants.values()) {
      const presence = this.presenceOf(occupant, viewer, status, 'unavailable');
      const item = presence.getChild('x', NS.MUC_USER)?.getChild('item');
      if (item !== undefined) {
        item.attrs['role'] = 'none';
        if (extra?.actor !== undefined) item.append(xml('actor', { nick: extra.actor }));
        if (extra?.reason !== undefined) item.append(xml('reason', {}, extra.reason));
      }
      // The leaver's status text goes with its unavailable presence (§7.14 example).
      const statusText = leavePresence?.getChildText('status');
      if (statusText !== undefined) presence.append(xml('status', {}, statusText));
      this.emitTo(viewer, presence);
    }
    this.occupants.delete(occupant.nick);
    for (const jid of occupant.sessions.keys()) this.nickByJid.delete(jid);
  }

  /** One of several sessions leaves: only it hears its unavailable presence; the occupant stays. */
  private removeSession(occupant: Occupant, jid: string): void {
    const presence = this.presenceOf(occupant, occupant, [], 'unavailable');
    presence.getChild('x', NS.MUC_USER)?.getChild('item')?.setAttr('role', 'none');
    this.emitToJid(jid, presence);
    occupant.sessions.delete(jid);
    this.nickByJid.delete(jid);
    if (occupant.jid === jid) occupant.jid = occupant.sessions.keys().next().value ?? jid;
  }

  private afterLeave(): RoomOutcome {
    return this.occupants.size === 0 ? 'empty' : 'active';
  }

  /** `subject` occupant's presence as `viewer` sees it (§7.2.3, §7.2.4: real JIDs only where the room shows them). */
  private presenceOf(
    subject: Occupant,
    viewer: Occupant,
    status: readonly string[],
    type?: 'unavailable',
    selfStatus: readonly string[] = [],
  ): Element {
    const self = subject === viewer;
    const showJid = self || this.record.config.whois === 'anyone' || viewer.role === 'moderator';
    const codes = self ? [Status.self, ...status, ...selfStatus] : status;
    return xml(
      'presence',
      { from: `${this.jid}/${subject.nick}`, to: viewer.jid, type },
      type === 'unavailable' ? [] : (subject.sessions.get(subject.jid) ?? []).map((p) => p.clone()),
      xml(
        'x',
        { xmlns: NS.MUC_USER },
        xml('item', {
          affiliation: this.affiliationOf(subject.bare),
          role: subject.role,
          jid: showJid ? subject.jid : undefined,
        }),
        codes.map((code) => xml('status', { code })),
      ),
    );
  }

  private broadcastPresence(
    subject: Occupant,
    status: readonly string[],
    selfStatus: readonly string[] = [],
  ): void {
    for (const viewer of this.occupants.values())
      this.emitTo(viewer, this.presenceOf(subject, viewer, status, undefined, selfStatus));
  }

  // ---- history and subject on join (§7.2.14, §7.2.15)

  private async sendHistory(to: string, request: Element | undefined): Promise<void> {
    const number = (name: string): number | undefined => {
      const raw = request?.attrs[name];
      if (raw === undefined) return undefined;
      const n = Number(raw);
      return Number.isFinite(n) && n >= 0 ? Math.floor(n) : undefined;
    };
    const maxStanzas = Math.min(number('maxstanzas') ?? this.ctx.historyDefault, this.ctx.historyMax);
    const maxChars = number('maxchars');
    const seconds = number('seconds');
    const sinceRaw = request?.attrs['since'];
    const since = sinceRaw === undefined ? undefined : Date.parse(sinceRaw);
    if (maxStanzas === 0 || maxChars === 0) return;
    let start: number | undefined;
    if (seconds !== undefined) start = this.ctx.now() - seconds * 1000;
    if (since !== undefined && !Number.isNaN(since)) start = Math.max(start ?? since, since);
    const page = await this.ctx.storage.queryArchive(this.jid, {
      max: maxStanzas,
      before: '',
      ...(start === undefined ? {} : { start }),
    });
    let messages = page.messages;
    if (maxChars !== undefined) {
      // Newest first until the budget is spent (§7.2.14: maxchars counts the stanzas' XML).
      let budget = maxChars;
      let keep = 0;
      for (let i = messages.length - 1; i >= 0; i--) {
        budget -= messages[i]!.xml.length;
        if (budget < 0) break;
        keep++;
      }
      messages = messages.slice(messages.length - keep);
    }
    for (const message of messages) {
      const el = parseElement(message.xml);
      el.attrs['to'] = to;
      el.append(xml('delay', { xmlns: NS.DELAY, from: this.jid, stamp: new Date(message.ts).toISOString() }));
      this.emit(el);
    }
  }

  private sendSubject(to: string): void {
    const subject = this.record.subject;
    this.emit(
      xml(
        'message',
        {
          from: subject === null || subject.nick === '' ? this.jid : `${this.jid}/${subject.nick}`,
          to,
          type: 'groupchat',
          id: this.ctx.newId(),
        },
        xml('subject', {}, subject?.text ?? ''),
      ),
    );
  }

  // ---- messages (§7.4 groupchat, §7.5 private, §7.8 invitations, §8.1 subject)

  private async onMessage(stanza: Element, nick: string, key: string | undefined): Promise<void> {
    const type = stanza.attrs['type'] ?? 'normal';
    const sender = this.occupantByJid(stanza.attrs['from'] ?? '');
    if (type === 'error') {
      // A bounce saying the session is gone (as Prosody reads it) removes the ghost occupant.
      const condition = stanza.getChild('error')?.getChildElements()[0]?.getName() ?? '';
      if (sender !== undefined && GONE.has(condition)) {
        if (sender.sessions.size > 1) this.removeSession(sender, stanza.attrs['from'] ?? '');
        else this.removeOccupant(sender, [], null);
      }
      return;
    }
    if (nick !== '') {
      this.privateMessage(stanza, nick, sender, type);
      return;
    }
    if (type === 'groupchat') {
      await this.groupchat(stanza, sender, key);
      return;
    }
    const x = stanza.getChild('x', NS.MUC_USER);
    if (x !== undefined && (x.getChild('invite') !== undefined || x.getChild('decline') !== undefined)) {
      await this.invitations(stanza, x, sender);
      return;
    }
    throw new StanzaError('bad-request', 'messages to the room are of type groupchat');
  }

  private async groupchat(
    stanza: Element,
    sender: Occupant | undefined,
    key: string | undefined,
  ): Promise<void> {
    if (sender === undefined) throw new StanzaError('not-acceptable', 'only occupants may send to the room'); // §7.4
    if (sender.role === 'visitor') throw new StanzaError('forbidden', 'visitors may not speak here'); // §7.4 (moderated)
    const subject = stanza.getChild('subject');
    const body = stanza.getChild('body');
    if (subject !== undefined && body === undefined) {
      // §8.1: moderators always, participants when the room allows it.
      if (!(sender.role === 'moderator' || this.record.config.changeSubject))
        throw new StanzaError('forbidden', 'you may not change the subject');
      await this.save({
        ...this.record,
        subject: { text: subject.getText(), nick: sender.nick, ts: this.ctx.now() },
      });
    }
    const reflected = xml('message', {
      from: `${this.jid}/${sender.nick}`,
      type: 'groupchat',
      id: stanza.attrs['id'],
      'xml:lang': stanza.attrs['xml:lang'],
    });
    for (const child of stanza.getChildElements()) {
      // XEP-0359 §5: a stanza-id claiming to be ours from outside is dropped.
      if (child.is('stanza-id', NS.SID) && child.attrs['by'] === this.jid) continue;
      reflected.append(child.clone());
    }
    const stanzaId = key ?? this.ctx.newId();
    reflected.append(xml('stanza-id', { xmlns: NS.SID, id: stanzaId, by: this.jid }));
    // XEP-0334 §4: a sender may ask that a message not be stored.
    const noStore = stanza.getChild('no-store', NS.HINTS) ?? stanza.getChild('no-permanent-store', NS.HINTS);
    if ((body !== undefined || subject !== undefined) && noStore === undefined) {
      await this.ctx.storage.appendMessage(this.jid, {
        id: stanzaId,
        ts: this.ctx.now(),
        nick: sender.nick,
        realJid: sender.bare,
        xml: reflected.toString(),
      });
    }
    // §7.4: to every occupant, the sender included, with the sender's id kept.
    for (const occupant of this.occupants.values()) this.emitTo(occupant, reflected);
  }

  private privateMessage(stanza: Element, nick: string, sender: Occupant | undefined, type: string): void {
    if (sender === undefined)
      throw new StanzaError('not-acceptable', 'only occupants may send private messages');
    if (type === 'groupchat') throw new StanzaError('bad-request', 'private messages are not groupchat'); // §7.5
    const policy = this.record.config.allowPm;
    const allowed =
      policy === 'anyone' ||
      (policy === 'participants' && sender.role !== 'visitor') ||
      (policy === 'moderators' && sender.role === 'moderator');
    if (!allowed) throw new StanzaError('forbidden', 'private messages are not allowed here');
    const target = this.occupants.get(nick);
    if (target === undefined) throw new StanzaError('item-not-found', 'no such occupant');
    const copy = stanza.clone();
    copy.attrs['from'] = `${this.jid}/${sender.nick}`;
    // §7.5: marks the message as coming through the room, for clients that sort conversations.
    if (copy.getChild('x', NS.MUC_USER) === undefined) copy.append(xml('x', { xmlns: NS.MUC_USER }));
    this.emitTo(target, copy);
  }

  private async invitations(stanza: Element, x: Element, sender: Occupant | undefined): Promise<void> {
    const from = stanza.attrs['from'] ?? '';
    for (const decline of x.getChildren('decline')) {
      // §7.8.2: the decline goes to the inviter, from the room, naming who declined.
      const to = decline.attrs['to'];
      if (to === undefined || tryParseJid(to) === null) throw new StanzaError('jid-malformed');
      const reason = decline.getChildText('reason');
      this.emit(
        xml(
          'message',
          { from: this.jid, to, id: stanza.attrs['id'] },
          xml(
            'x',
            { xmlns: NS.MUC_USER },
            xml('decline', { from: bareOf(from) }, reason === undefined ? null : xml('reason', {}, reason)),
          ),
        ),
      );
    }
    const invites = x.getChildren('invite');
    if (invites.length === 0) return;
    if (sender === undefined) throw new StanzaError('not-acceptable', 'only occupants may invite');
    const config = this.record.config;
    const affiliation = this.affiliationOf(sender.bare);
    // §7.8.2: in a members-only room only admins and owners invite, unless the room lets occupants.
    if (config.membersOnly && !config.allowInvites && !atLeast(affiliation, 'admin'))
      throw new StanzaError('forbidden', 'you may not invite to this room');
    for (const invite of invites) {
      const to = invite.attrs['to'];
      const invitee = to === undefined ? null : tryParseJid(to);
      if (invitee === null) throw new StanzaError('jid-malformed', 'the invitee is not a JID');
      const inviteeBare = invitee.bare().toString();
      if (config.membersOnly && this.affiliationOf(inviteeBare) === 'none') {
        // §9.3 / §7.8.2: an invitation to a members-only room makes the invitee a member.
        await this.save({
          ...this.record,
          affiliations: { ...this.record.affiliations, [inviteeBare]: 'member' },
        });
      }
      const reason = invite.getChildText('reason');
      const roomName = config.name === '' ? this.jid : config.name;
      this.emit(
        xml(
          'message',
          { from: this.jid, to: invitee.toString(), id: stanza.attrs['id'] },
          xml(
            'x',
            { xmlns: NS.MUC_USER },
            xml('invite', { from }, reason === undefined ? null : xml('reason', {}, reason)),
            config.password === '' ? null : xml('password', {}, config.password),
          ),
          xml(
            'body',
            {},
            `${bareOf(from)} invites you to the room ${roomName}${reason ? `: ${reason}` : ''}`,
          ),
        ),
      );
    }
  }

  // ---- iq: disco, owner, admin, MAM

  private async onIq(stanza: Element, nick: string): Promise<RoomOutcome> {
    const type = stanza.attrs['type'];
    if (nick !== '') {
      this.occupantIq(stanza, nick);
      return 'active';
    }
    if (type === 'result' || type === 'error') return 'active';
    const query = stanza.getChildElements()[0];
    if (query === undefined) throw new StanzaError('bad-request');
    const ns = query.getNS();
    const requester = stanza.attrs['from'] ?? '';
    if (type === 'get' && query.is('query', NS.DISCO_INFO)) {
      this.reply(stanza, this.discoInfo());
      return 'active';
    }
    if (type === 'get' && query.is('query', NS.DISCO_ITEMS)) {
      // §6.5: the occupant list is not revealed; an empty list is allowed.
      this.reply(stanza, xml('query', { xmlns: NS.DISCO_ITEMS }));
      return 'active';
    }
    if (type === 'get' && query.is('ping', NS.PING)) {
      // XEP-0410: a self-ping answers whether the pinger is still joined.
      if (this.occupantByJid(requester) === undefined) throw new StanzaError('not-acceptable');
      this.reply(stanza);
      return 'active';
    }
    if (ns === NS.MUC_OWNER) return this.owner(stanza, query, type === 'get');
    if (ns === NS.MUC_ADMIN) {
      await this.admin(stanza, query, type === 'get');
      return 'active';
    }
    if (ns === NS.MAM && query.getName() === 'query') {
      if (type === 'get') {
        this.reply(stanza, xml('query', { xmlns: NS.MAM }, mamQueryForm()));
        return 'active';
      }
      this.requireArchiveAccess(requester);
      const sent = await handleMamQuery(stanza, query, this.jid, this.ctx.storage);
      for (const el of sent) this.emit(el);
      return 'active';
    }
    throw new StanzaError('service-unavailable');
  }

  /**
   * An iq to an occupant JID goes to the occupant's real JID from the
   * sender's occupant JID, under an id of ours so the answer finds its way
   * back (as Prosody relays vCard and version queries). A ping to one's own
   * occupant JID is answered by the room (XEP-0410 §3).
   */
  private occupantIq(stanza: Element, nick: string): void {
    const type = stanza.attrs['type'];
    const from = stanza.attrs['from'] ?? '';
    if (type === 'result' || type === 'error') {
      const id = stanza.attrs['id'] ?? '';
      const pending = this.relayedIqs.get(id);
      if (pending === undefined || pending.responder !== from) return;
      this.relayedIqs.delete(id);
      const answer = stanza.clone();
      answer.attrs['from'] = `${this.jid}/${pending.responderNick}`;
      answer.attrs['to'] = pending.requester;
      answer.attrs['id'] = pending.id;
      this.emit(answer);
      return;
    }
    const sender = this.occupantByJid(from);
    if (sender === undefined) throw new StanzaError('not-acceptable', 'only occupants may query occupants');
    const target = this.occupants.get(nick);
    if (target === undefined) throw new StanzaError('item-not-found', 'no such occupant');
    if (target === sender && stanza.getChild('ping', NS.PING) !== undefined) {
      this.reply(stanza);
      return;
    }
    const id = this.ctx.newId();
    this.relayedIqs.set(id, {
      id: stanza.attrs['id'] ?? '',
      requester: from,
      responder: target.jid,
      responderNick: target.nick,
    });
    // Bounded: answers that never come must not grow the map forever.
    if (this.relayedIqs.size > MAX_RELAYED_IQS) {
      const oldest = this.relayedIqs.keys().next().value;
      if (oldest !== undefined) this.relayedIqs.delete(oldest);
    }
    const relayed = stanza.clone();
    relayed.attrs['from'] = `${this.jid}/${sender.nick}`;
    relayed.attrs['to'] = target.jid;
    relayed.attrs['id'] = id;
    this.emit(relayed);
  }

  private requireArchiveAccess(requester: string): void {
    const affiliation = this.affiliationOf(bareOf(requester));
    if (affiliation === 'outcast') throw new StanzaError('forbidden');
    const config = this.record.config;
    const closed = config.membersOnly || config.password !== '' || !config.public;
    if (closed && this.occupantByJid(requester) === undefined && !atLeast(affiliation, 'member'))
      throw new StanzaError('forbidden', 'only members and occupants may read this archive');
  }

  /** Room disco#info (§6.4): identity, muc_* features and the muc#roominfo form. */
  discoInfo(): Element {
    const c = this.record.config;
    const features = [
      NS.MUC,
      NS.DISCO_INFO,
      NS.DISCO_ITEMS,
      NS.MAM,
      NS.SID,
      'muc_stable_id',
      c.public ? 'muc_public' : 'muc_hidden',
      c.persistent ? 'muc_persistent' : 'muc_temporary',
      c.membersOnly ? 'muc_membersonly' : 'muc_open',
      c.moderated ? 'muc_moderated' : 'muc_unmoderated',
      c.whois === 'anyone' ? 'muc_nonanonymous' : 'muc_semianonymous',
      c.password === '' ? 'muc_unsecured' : 'muc_passwordprotected',
    ];
    const field = (name: string, value: string): Element =>
      xml('field', { var: name }, xml('value', {}, value));
    return xml(
      'query',
      { xmlns: NS.DISCO_INFO },
      xml('identity', { category: 'conference', type: 'text', name: c.name === '' ? undefined : c.name }),
      features.map((v) => xml('feature', { var: v })),
      xml(
        'x',
        { xmlns: NS.DATA, type: 'result' },
        xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, NS.MUC_ROOMINFO)),
        field('muc#roominfo_description', c.description),
        field('muc#roominfo_subject', this.subject),
        field('muc#roominfo_occupants', String(this.occupants.size)),
        field('muc#roominfo_lang', c.language),
        field('muc#roomconfig_roomname', c.name),
        field('muc#roomconfig_changesubject', c.changeSubject ? '1' : '0'),
      ),
    );
  }

  private requireAffiliation(requester: string, needed: Affiliation): Affiliation {
    const affiliation = this.affiliationOf(bareOf(requester));
    if (!atLeast(affiliation, needed)) throw new StanzaError('forbidden');
    return affiliation;
  }

  /** muc#owner (§10): the configuration form, its submission, cancellation and room destruction. */
  private async owner(stanza: Element, query: Element, get: boolean): Promise<RoomOutcome> {
    const requester = stanza.attrs['from'] ?? '';
    this.requireAffiliation(requester, 'owner');
    if (get) {
      const owners = this.withAffiliation('owner');
      const admins = this.withAffiliation('admin');
      this.reply(
        stanza,
        xml('query', { xmlns: NS.MUC_OWNER }, roomConfigForm(this.record.config, owners, admins)),
      );
      return 'active';
    }
    const destroy = query.getChild('destroy');
    if (destroy !== undefined) {
      await this.destroy(destroy.attrs['jid'], destroy.getChildText('reason'));
      this.reply(stanza);
      return 'destroyed';
    }
    const form = query.getChild('x', NS.DATA);
    if (form === undefined) throw new StanzaError('bad-request');
    if (form.attrs['type'] === 'cancel') {
      this.reply(stanza);
      // §10.1.3: cancelling the initial configuration destroys the locked room.
      if (this.locked) {
        await this.destroy(undefined, undefined);
        return 'destroyed';
      }
      return 'active';
    }
    if (form.attrs['type'] !== 'submit') throw new StanzaError('bad-request');
    const submitted = applyConfigForm(this.record.config, form);
    const affiliations = { ...this.record.affiliations };
    if (submitted.owners !== undefined) {
      if (submitted.owners.length === 0) throw new StanzaError('conflict', 'a room needs an owner'); // §10.6
      setAffiliationList(affiliations, 'owner', submitted.owners);
    }
    if (submitted.admins !== undefined) setAffiliationList(affiliations, 'admin', submitted.admins);
    const before = this.record.config;
    const wasLocked = this.locked;
    this.locked = false;
    await this.save({ ...this.record, config: submitted.config, affiliations });
    this.reply(stanza);
    const after = submitted.config;
    if (!wasLocked) {
      // §10.2.1: occupants hear that the configuration changed, with privacy-relevant codes.
      const codes: string[] = [Status.configChanged];
      if (before.whois !== after.whois)
        codes.push(after.whois === 'anyone' ? Status.nowNonAnonymous : Status.nowSemiAnonymous);
      if (before.logging !== after.logging) codes.push(after.logging ? Status.logging : Status.loggingOff);
      for (const occupant of this.occupants.values())
        this.emitTo(
          occupant,
          xml(
            'message',
            { from: this.jid, to: occupant.jid, type: 'groupchat', id: this.ctx.newId() },
            xml(
              'x',
              { xmlns: NS.MUC_USER },
              codes.map((code) => xml('status', { code })),
            ),
          ),
        );
    }
    // Roles follow affiliation and moderation changes; non-members leave a room that became members-only (§9.4).
    for (const occupant of [...this.occupants.values()]) this.reconcile(occupant, null, Status.membersOnly);
    return 'active';
  }

  /** §10.9: everyone leaves with the destroy notice, then the room and its archive are gone. */
  async destroy(alternate: string | undefined, reason: string | undefined): Promise<void> {
    for (const occupant of this.occupants.values()) {
      this.emitTo(
        occupant,
        xml(
          'presence',
          { from: `${this.jid}/${occupant.nick}`, to: occupant.jid, type: 'unavailable' },
          xml(
            'x',
            { xmlns: NS.MUC_USER },
            xml('item', { affiliation: 'none', role: 'none' }),
            xml('destroy', { jid: alternate }, reason === undefined ? null : xml('reason', {}, reason)),
          ),
        ),
      );
    }
    this.occupants.clear();
    this.nickByJid.clear();
    await this.ctx.storage.deleteRoom(this.jid);
  }

  /** Tells every occupant the service is going away (§15.6 status 332) without touching stored state. */
  shutdownNotice(): Promise<void> {
    for (const occupant of this.occupants.values()) this.removeOccupant(occupant, [Status.shutdown], null);
    const pending = this.sent;
    this.sent = [];
    return Promise.all(pending).then(() => undefined);
  }

  private withAffiliation(affiliation: Affiliation): string[] {
    return Object.entries(this.record.affiliations)
      .filter(([, a]) => a === affiliation)
      .map(([jid]) => jid);
  }

  /** muc#admin (§8 moderator and §9 admin use cases): role and affiliation lists and changes. */
  private async admin(stanza: Element, query: Element, get: boolean): Promise<void> {
    const requester = stanza.attrs['from'] ?? '';
    const actor = this.occupantByJid(requester);
    const actorAffiliation = this.affiliationOf(bareOf(requester));
    const items = query.getChildren('item');
    if (items.length === 0) throw new StanzaError('bad-request');
    if (get) {
      const wanted = items[0]!;
      const role = wanted.attrs['role'];
      const affiliation = wanted.attrs['affiliation'];
      if (role !== undefined) {
        // §8.5: moderators list voices and moderators.
        if (actor?.role !== 'moderator') throw new StanzaError('forbidden');
        const listed = [...this.occupants.values()].filter((o) => o.role === role);
        this.reply(
          stanza,
          xml(
            'query',
            { xmlns: NS.MUC_ADMIN },
            listed.map((o) =>
              xml('item', {
                nick: o.nick,
                role: o.role,
                affiliation: this.affiliationOf(o.bare),
                jid: o.jid,
              }),
            ),
          ),
        );
        return;
      }
      if (affiliation === undefined || !isAffiliation(affiliation)) throw new StanzaError('bad-request');
      // §9.5, §9.8, §10.5, §10.8: admins and owners read the lists.
      this.requireAffiliation(requester, 'admin');
      this.reply(
        stanza,
        xml(
          'query',
          { xmlns: NS.MUC_ADMIN },
          this.withAffiliation(affiliation).map((jid) => xml('item', { affiliation, jid })),
        ),
      );
      return;
    }
    // Check every item before changing anything, so a list is applied whole or not at all.
    const changes: (() => Promise<void> | void)[] = [];
    for (const item of items) {
      const reason = item.getChildText('reason');
      const role = item.attrs['role'];
      const affiliation = item.attrs['affiliation'];
      if (role !== undefined && affiliation === undefined) {
        changes.push(this.planRoleChange(actor, item.attrs['nick'], role, reason));
      } else if (affiliation !== undefined) {
        changes.push(this.planAffiliationChange(actor, actorAffiliation, item, affiliation, reason));
      } else throw new StanzaError('bad-request');
    }
    for (const change of changes) await change();
    this.reply(stanza);
  }

  private planRoleChange(
    actor: Occupant | undefined,
    nick: string | undefined,
    role: string,
    reason: string | undefined,
  ): () => void {
    if (actor?.role !== 'moderator') throw new StanzaError('forbidden'); // §8
    if (role !== 'none' && role !== 'visitor' && role !== 'participant' && role !== 'moderator')
      throw new StanzaError('bad-request');
    if (nick === undefined) throw new StanzaError('bad-request', 'a role change names a nick');
    const target = this.occupants.get(nick);
    if (target === undefined) throw new StanzaError('item-not-found', 'no such occupant');
    const actorAffiliation = this.affiliationOf(actor.bare);
    const targetAffiliation = this.affiliationOf(target.bare);
    // §8.2, §8.4: nobody kicks or silences an admin or owner; granting moderator is for admins (§9.6).
    if ((role === 'none' || role === 'visitor') && atLeast(targetAffiliation, 'admin'))
      throw new StanzaError('not-allowed');
    if ((role === 'moderator' || target.role === 'moderator') && !atLeast(actorAffiliation, 'admin'))
      throw new StanzaError('not-allowed');
    return () => {
      if (role === 'none') {
        this.removeOccupant(target, [Status.kicked], {
          actor: actor.nick,
          ...(reason === undefined ? {} : { reason }),
        });
        return;
      }
      target.role = role;
      this.broadcastPresence(target, []);
    };
  }

  private planAffiliationChange(
    actor: Occupant | undefined,
    actorAffiliation: Affiliation,
    item: Element,
    affiliation: string,
    reason: string | undefined,
  ): () => Promise<void> {
    if (!isAffiliation(affiliation)) throw new StanzaError('bad-request');
    let target = item.attrs['jid'] === undefined ? null : tryParseJid(item.attrs['jid']);
    const nick = item.attrs['nick'];
    if (target === null && nick !== undefined) {
      const occupant = this.occupants.get(nick);
      if (occupant === undefined) throw new StanzaError('item-not-found', 'no such occupant');
      target = tryParseJid(occupant.bare);
    }
    if (target === null) throw new StanzaError('jid-malformed', 'an affiliation change names a JID');
    const bare = target.bare().toString();
    const current = this.affiliationOf(bare);
    // §9: admins handle members and outcasts below admin; §10: only owners touch admins and owners.
    const ownerOnly =
      affiliation === 'owner' || affiliation === 'admin' || current === 'owner' || current === 'admin';
    if (!atLeast(actorAffiliation, ownerOnly ? 'owner' : 'admin')) throw new StanzaError('forbidden');
    if (current === 'owner' && affiliation !== 'owner' && this.withAffiliation('owner').length === 1)
      throw new StanzaError('conflict', 'the last owner cannot step down'); // §10.6
    return async () => {
      const affiliations = { ...this.record.affiliations };
      if (affiliation === 'none') delete affiliations[bare];
      else affiliations[bare] = affiliation;
      await this.save({ ...this.record, affiliations });
      const extra = {
        ...(actor === undefined ? {} : { actor: actor.nick }),
        ...(reason === undefined ? {} : { reason }),
      };
      for (const occupant of [...this.occupants.values()])
        if (occupant.bare === bare) this.reconcile(occupant, extra, Status.affiliationChange);
    };
  }

  /**
   * Puts an occupant's role in line with its affiliation and the room's
   * config: banned occupants leave with 301 (§9.1), those no longer allowed
   * in a members-only room with `membersOnlyStatus` (321 or 322, §9.4, §10.2),
   * others get their new presence broadcast when something changed (§9.3).
   */
  private reconcile(
    occupant: Occupant,
    extra: { actor?: string; reason?: string } | null,
    membersOnlyStatus: string,
  ): void {
    const affiliation = this.affiliationOf(occupant.bare);
    if (affiliation === 'outcast') {
      this.removeOccupant(occupant, [Status.banned], extra);
      return;
    }
    if (this.record.config.membersOnly && !atLeast(affiliation, 'member')) {
      this.removeOccupant(occupant, [membersOnlyStatus], extra);
      return;
    }
    const base = defaultRole(affiliation, this.record.config.moderated);
    // An affiliation change resets the role (§9.3, §10.3); a config change only lifts
    // visitors once the room is no longer moderated and keeps granted voices otherwise.
    let next: Role = base;
    if (extra === null) {
      next = occupant.role;
      if (base === 'moderator') next = 'moderator';
      else if (occupant.role === 'visitor' && !this.record.config.moderated) next = 'participant';
    }
    if (extra !== null || next !== occupant.role) {
      occupant.role = next;
      this.broadcastPresence(occupant, []);
    }
  }

  // ---- plumbing

  occupantByJid(jid: string): Occupant | undefined {
    const nick = this.nickByJid.get(jid);
    return nick === undefined ? undefined : this.occupants.get(nick);
  }

  private reply(stanza: Element, payload?: Element): void {
    this.emit(
      xml(
        'iq',
        { from: stanza.attrs['to'], to: stanza.attrs['from'], id: stanza.attrs['id'], type: 'result' },
        payload,
      ),
    );
  }

  /** Sends `el` to every session of `occupant`. */
  private emitTo(occupant: Occupant, el: Element): void {
    for (const jid of occupant.sessions.keys()) this.emitToJid(jid, el);
  }

  private emitToJid(jid: string, el: Element): void {
    const copy = el.clone();
    copy.attrs['to'] = jid;
    this.emit(copy);
  }

  private emit(el: Element): void {
    this.sent.push(this.ctx.send(el));
  }

  /** Temporary and locked rooms are stored too once unlocked, so disco lists them; see service.ts. */
  private async save(record: RoomRecord): Promise<void> {
    this.record = record;
    if (!this.locked) await this.ctx.storage.putRoom(record);
  }
}

function setAffiliationList(
  affiliations: Record<string, Exclude<Affiliation, 'none'>>,
  affiliation: 'owner' | 'admin',
  jids: readonly string[],
): void {
  for (const [jid, a] of Object.entries(affiliations)) if (a === affiliation) delete affiliations[jid];
  for (const raw of jids) {
    const parsed = tryParseJid(raw);
    if (parsed === null) throw new StanzaError('jid-malformed', raw);
    affiliations[parsed.bare().toString()] = affiliation;
  }
}

function isAffiliation(value: string): value is Exclude<Affiliation, 'none'> | 'none' {
  return (
    value === 'owner' || value === 'admin' || value === 'member' || value === 'outcast' || value === 'none'
  );
}

export function bareOf(full: string): string {
  const parsed = tryParseJid(full);
  return parsed === null ? full : parsed.bare().toString();
}

export type { Role };
