import { randomUUID } from 'node:crypto';
import { tryParseJid, type Jid } from '@switchboard/jid';
import type { Logger } from '@switchboard/kit';
import { xml, type Element } from '@switchboard/xml';
import type { InboundSms } from '../providers/provider.js';
import type { OutboundQueue } from '../queue/queue.js';
import type { Registration, Registrations } from '../registrations/registrations.js';
import { LineBatcher, type BatchTarget } from './batcher.js';
import { parseCommand, unescapeText, USAGE, type RoomCommand } from './commands.js';
import type { RoomMembership, RoomMemberships } from './memberships.js';

export const NS_MUC = 'http://jabber.org/protocol/muc';
export const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
export const NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
/** XEP-0249 direct invitations. */
export const NS_CONFERENCE = 'jabber:x:conference';
const NS_DELAY = 'urn:xmpp:delay';
const NS_DATA = 'jabber:x:data';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** The resource of every phone's occupant JID: `+E164@sms.<domain>/sms` is the phone in all its rooms. */
export const OCCUPANT_RESOURCE = 'sms';

/** Names listed in a join confirmation before "and N more". */
const NAMES_LISTED = 10;
/** Pending invitations and failed joins remembered, at most. */
const PENDING_LIMIT = 10_000;

export interface RoomBridgeOptions {
  /** The gateway's domain, e.g. `sms.example.com`. */
  readonly domain: string;
  readonly send: (el: Element) => Promise<void>;
  readonly registrations: Registrations;
  readonly memberships: RoomMemberships;
  readonly queue: Pick<OutboundQueue, 'enqueue'>;
  readonly logger: Logger;
  /** Segment count of a text (GSM-7/UCS-2 rules). */
  readonly segmentsOf: (text: string) => number;
  /** Most segments one batch of room lines may take. */
  readonly batchSegments: number;
  /** How long a room line waits for others to share its SMS. */
  readonly batchDelayMs: number;
  /** The MUC service `/join room` (no `@service`) means, e.g. `conference.example.com`. */
  readonly defaultService?: string;
  /** Text the phone when others join, leave or change the subject. Default off: SMS cost money. */
  readonly announce?: boolean;
  readonly now?: () => number;
}

interface Occupant {
  readonly role: string;
  readonly affiliation: string;
}

/** What the gateway knows of one phone in one room beyond the stored membership. */
interface RoomState {
  joined: boolean;
  /** A join we sent and the room has not answered; `silent` for rejoins after a restart. */
  joining?: { readonly silent: boolean };
  /** A nick change we asked for (XEP-0045 §7.6) and the room has not answered. */
  pendingNick?: string;
  readonly occupants: Map<string, Occupant>;
}

interface Invitation {
  readonly room: string;
  readonly inviter: string;
  readonly password?: string;
}

/** A join refused for a taken nick: `/nick` retries it (XEP-0045 §7.2.9). */
interface FailedJoin {
  readonly room: string;
  readonly password?: string;
}

/**
 * SMS users in group chats, in the style of Cheogram. The gateway joins rooms
 * as an occupant on a phone's behalf with plain XEP-0045 presence from
 * `+E164@<gateway domain>/sms`, so any MUC service works.
 *
 * Which number a phone's room traffic uses: a conversation is a phone and the
 * gateway number it texts (a registered user's number, as for 1:1 SMS). A
 * room joined by texting number N belongs to that conversation: the room's
 * lines reach the phone from N, and commands and plain texts sent to N act on
 * N's rooms only, so the phone sees each conversation on one number. An
 * invitation goes out from the inviter's own registered number when the
 * invitation names the inviter's real JID and it has one (the phone knows
 * that number), else from the number the phone last exchanged SMS with
 * (1:1 or room); with neither it is declined (XEP-0045 §7.8.2) or refused.
 *
 * Where plain texts go: to the room of the conversation that was joined or
 * switched to (/room) most recently; with no room, to the number's owner (1:1).
 */
export class RoomBridge {
  private readonly log: Logger;
  private readonly batcher: LineBatcher;
  private readonly now: () => number;
  private readonly states = new Map<string, RoomState>();
  private readonly invitations = new Map<string, Invitation>();
  private readonly failedJoins = new Map<string, FailedJoin>();

  constructor(private readonly options: RoomBridgeOptions) {
    this.log = options.logger;
    this.now = options.now ?? Date.now;
    this.batcher = new LineBatcher({
      delayMs: options.batchDelayMs,
      fits: (text) => options.segmentsOf(text) <= options.batchSegments,
      send: (target, text) => this.sendSms(target, text),
      onError: (error, target) => this.log.error({ err: error, phone: target.phone }, 'room SMS not queued'),
    });
  }

  // ---- lifecycle ----

  /** Joins every stored room again (after a start or a reconnect); answers come back as for any join. */
  async rejoinAll(): Promise<void> {
    const memberships = await this.options.memberships.all();
    for (const membership of memberships) await this.join(membership, true);
    if (memberships.length > 0) this.log.info({ rooms: memberships.length }, 'rejoining rooms');
  }

  /** Sends every batch still waiting (on shutdown, before the queue closes). */
  flush(): Promise<void> {
    return this.batcher.flushAll();
  }

  // ---- SMS → XMPP ----

  /** A 1:1 SMS went between `phone` and the gateway number `via`: invitations without a better number use it. */
  noteConversation(phone: string, via: string): Promise<void> {
    return this.options.memberships.noteConversation(phone, via);
  }

  /** "YES" answering an invitation joins the room; false when there is no invitation to answer. */
  async onYes(sms: InboundSms): Promise<boolean> {
    if (sms.text.trim().toUpperCase() !== 'YES') return false;
    if (!this.invitations.has(conversationKey(sms.from, sms.to))) return false;
    await this.commandJoin(sms.from, sms.to, {});
    return true;
  }

  /** A STOP: the phone leaves every room (unavailable presence to each) and nothing more is sent to it. */
  async optOut(phone: string): Promise<void> {
    this.batcher.drop(phone);
    for (const key of [...this.invitations.keys(), ...this.failedJoins.keys()]) {
      if (key.startsWith(`${phone}\u0000`)) {
        this.invitations.delete(key);
        this.failedJoins.delete(key);
      }
    }
    for (const membership of await this.options.memberships.byPhone(phone)) {
      await this.leave(membership);
    }
  }

  /**
   * A text from a phone to `owner`'s number: a command, or a message for the
   * conversation's current room. False when it is neither (1:1 as before).
   */
  async onText(sms: InboundSms, owner: Registration): Promise<boolean> {
    const phone = sms.from;
    const via = sms.to;
    // Nothing can answer a number that opted out (it is in no room either): its texts stay 1:1.
    if (await this.options.registrations.isOptedOut(phone, via)) return false;
    const command = parseCommand(sms.text);
    const rooms = await this.roomsOf(phone, via);
    if (command === null) {
      const current = rooms[0];
      if (current === undefined) return false;
      await this.sendGroupchat(current, unescapeText(sms.text), `sms-${sms.providerMessageId}`);
      return true;
    }
    // Unknown slash words from a phone in no room are ordinary 1:1 texts.
    if (command.kind === 'unknown' && rooms.length === 0) return false;
    await this.run(command, phone, via, rooms, owner);
    return true;
  }

  private async run(
    command: RoomCommand,
    phone: string,
    via: string,
    rooms: RoomMembership[],
    owner: Registration,
  ): Promise<void> {
    const reply = (text: string): void => this.reply(phone, via, text);
    switch (command.kind) {
      case 'join':
        return this.commandJoin(phone, via, command);
      case 'leave': {
        const membership = this.pick(rooms, command.room, phone, via);
        if (membership === null) return;
        await this.leave(membership);
        reply(`You left ${membership.room}. ${await this.whereTextsGo(phone, via, owner)}`);
        return;
      }
      case 'nick':
        return this.commandNick(phone, via, rooms, command.nick);
      case 'msg':
        return this.commandMsg(phone, via, rooms, command.rest);
      case 'who': {
        const membership = this.pick(rooms, command.room, phone, via);
        if (membership !== null) reply(this.whoText(membership));
        return;
      }
      case 'room': {
        if (command.room === undefined) {
          const [current, ...others] = rooms;
          reply(
            current === undefined
              ? `You are in no room. Join one: ${USAGE.join}`
              : `Your texts go to ${current.room} (as ${current.nick}).` +
                  (others.length === 0
                    ? ''
                    : ` Your other rooms: ${others.map((m) => m.room).join(', ')}. Switch: ${USAGE.room}`),
          );
          return;
        }
        const membership = this.pick(rooms, command.room, phone, via);
        if (membership === null) return;
        await this.options.memberships.put({ ...membership, selectedAt: this.now() });
        reply(`Your texts now go to ${membership.room}.`);
        return;
      }
      case 'help':
        reply(this.helpText(owner));
        return;
      case 'usage':
        reply(`Usage: ${USAGE[command.command as keyof typeof USAGE]}`);
        return;
      case 'unknown':
        reply(`Unknown command /${command.name}. /help lists the commands.`);
        return;
    }
  }

  private async commandJoin(
    phone: string,
    via: string,
    command: { readonly room?: string; readonly nick?: string },
  ): Promise<void> {
    const key = conversationKey(phone, via);
    const invitation = this.invitations.get(key);
    let roomArg = command.room ?? invitation?.room;
    if (roomArg === undefined) {
      this.reply(phone, via, `Usage: ${USAGE.join}`);
      return;
    }
    if (!roomArg.includes('@') && this.options.defaultService !== undefined) {
      roomArg = `${roomArg}@${this.options.defaultService}`;
    }
    const roomJid = tryParseJid(roomArg);
    if (roomJid === null || roomJid.local === '' || roomJid.resource !== '') {
      this.reply(phone, via, `${roomArg} is not a room address. Usage: ${USAGE.join}`);
      return;
    }
    const room = roomJid.toString();
    const existing = await this.options.memberships.get(phone, room);
    // Without a nick: the one the phone has in this room, or in its latest room, or one from its number.
    const nick =
      command.nick ?? existing?.nick ?? (await this.roomsOf(phone, via))[0]?.nick ?? defaultNick(phone);
    if (tryParseJid(`${room}/${nick}`) === null) {
      this.reply(phone, via, `"${nick}" cannot be a nick. Usage: ${USAGE.join}`);
      return;
    }
    const password = invitation?.room === room ? invitation.password : undefined;
    if (invitation?.room === room) this.invitations.delete(key);
    this.failedJoins.delete(key);
    if (existing !== null) {
      const moved = { ...existing, via, selectedAt: this.now() };
      await this.options.memberships.put(moved);
      if (nick !== existing.nick) await this.changeNick(moved, nick);
      else this.reply(phone, via, `You are in ${room} as ${nick}; your texts go there now.`);
      return;
    }
    await this.join(
      { phone, room, nick, via, selectedAt: this.now(), ...(password === undefined ? {} : { password }) },
      false,
    );
  }

  private async commandNick(
    phone: string,
    via: string,
    rooms: RoomMembership[],
    nick: string,
  ): Promise<void> {
    const key = conversationKey(phone, via);
    const failed = this.failedJoins.get(key);
    if (failed !== undefined) {
      // The join that failed for a taken nick, again with the new one.
      this.failedJoins.delete(key);
      await this.commandJoin(phone, via, { room: failed.room, nick });
      return;
    }
    const current = rooms[0];
    if (current === undefined) {
      this.reply(phone, via, `You are in no room. Join one: ${USAGE.join}`);
      return;
    }
    if (tryParseJid(`${current.room}/${nick}`) === null) {
      this.reply(phone, via, `"${nick}" cannot be a nick.`);
      return;
    }
    await this.changeNick(current, nick);
  }

  private async commandMsg(phone: string, via: string, rooms: RoomMembership[], rest: string): Promise<void> {
    const current = rooms[0];
    if (current === undefined) {
      this.reply(phone, via, `You are in no room. Join one: ${USAGE.join}`);
      return;
    }
    const occupants = [...this.stateOf(current).occupants.keys()].filter((n) => n !== current.nick);
    // Nicks may contain spaces: the longest occupant nick the text starts with wins.
    const byLength = occupants.sort((a, b) => b.length - a.length);
    const nick =
      byLength.find((n) => rest.startsWith(`${n} `)) ??
      byLength.find((n) => rest.toLowerCase().startsWith(`${n.toLowerCase()} `)) ??
      rest.split(/\s+/)[0] ??
      '';
    const text = rest.slice(nick.length).trim();
    if (!occupants.includes(nick)) {
      this.reply(phone, via, `No one called ${nick} is in ${current.room}. /who lists who is there.`);
      return;
    }
    // XEP-0045 §7.5: a private message goes to the occupant JID, type chat, marked with muc#user.
    await this.options.send(
      xml(
        'message',
        { from: this.occupantJid(phone), to: `${current.room}/${nick}`, type: 'chat', id: randomUUID() },
        xml('body', {}, text),
        xml('x', { xmlns: NS_MUC_USER }),
      ),
    );
  }

  /** XEP-0045 §7.2.2: presence to room/nick with the MUC <x/>; no history, SMS cost money. */
  private async join(membership: RoomMembership, silent: boolean): Promise<void> {
    await this.options.memberships.put(membership);
    const previous = this.states.get(stateKey(membership.phone, membership.room));
    this.states.set(stateKey(membership.phone, membership.room), {
      joined: false,
      joining: { silent },
      occupants: previous?.occupants ?? new Map<string, Occupant>(),
    });
    await this.options.send(
      xml(
        'presence',
        { from: this.occupantJid(membership.phone), to: `${membership.room}/${membership.nick}` },
        xml(
          'x',
          { xmlns: NS_MUC },
          xml('history', { maxstanzas: '0' }),
          membership.password === undefined ? null : xml('password', {}, membership.password),
        ),
      ),
    );
  }

  /** XEP-0045 §7.14: unavailable presence to the occupant JID. */
  private async leave(membership: RoomMembership): Promise<void> {
    await this.options.memberships.remove(membership.phone, membership.room);
    this.states.delete(stateKey(membership.phone, membership.room));
    await this.options.send(
      xml('presence', {
        from: this.occupantJid(membership.phone),
        to: `${membership.room}/${membership.nick}`,
        type: 'unavailable',
      }),
    );
  }

  /** XEP-0045 §7.6: presence to the new occupant JID. */
  private async changeNick(membership: RoomMembership, nick: string): Promise<void> {
    this.stateOf(membership).pendingNick = nick;
    await this.options.send(
      xml('presence', { from: this.occupantJid(membership.phone), to: `${membership.room}/${nick}` }),
    );
  }

  private async sendGroupchat(membership: RoomMembership, text: string, id: string): Promise<void> {
    // XEP-0045 §7.4.
    await this.options.send(
      xml(
        'message',
        { from: this.occupantJid(membership.phone), to: membership.room, type: 'groupchat', id },
        xml('body', {}, text),
      ),
    );
  }

  // ---- XMPP → SMS ----

  /** A stanza to a phone's JID: room traffic and invitations are the bridge's; false for everything else. */
  async handleStanza(el: Element, from: Jid, to: Jid): Promise<boolean> {
    if (!isPhone(to.local) || el.name === 'iq') return false;
    const phone = to.local;
    if (el.name === 'message' && el.attrs['type'] !== 'error' && (await this.onInvitation(el, from, phone))) {
      return true;
    }
    const membership = await this.options.memberships.get(phone, from.bare().toString());
    if (membership === null) {
      // Room presence that crossed a /leave or STOP: nothing for the 1:1 side.
      return el.name === 'presence' && el.getChild('x', NS_MUC_USER) !== undefined;
    }
    if (el.name === 'presence') await this.onRoomPresence(el, from, membership);
    else await this.onRoomMessage(el, from, membership);
    return true;
  }

  private async onRoomPresence(el: Element, from: Jid, membership: RoomMembership): Promise<void> {
    const { phone, via, room } = membership;
    const state = this.stateOf(membership);
    const type = el.attrs['type'] ?? 'available';
    const nick = from.resource;
    const x = el.getChild('x', NS_MUC_USER);
    const codes = new Set((x?.getChildren('status') ?? []).map((s) => s.attrs['code'] ?? ''));
    const item = x?.getChild('item');

    if (type === 'error') {
      const { condition, text } = stanzaError(el);
      if (state.pendingNick !== undefined && state.pendingNick === nick && state.joined) {
        delete state.pendingNick;
        this.reply(
          phone,
          via,
          condition === 'conflict'
            ? `The nick ${nick} is taken in ${room}; you are still ${membership.nick}. Try another: ${USAGE.nick}`
            : `Could not change your nick in ${room}: ${text ?? condition}.`,
        );
        return;
      }
      if (state.joined) {
        this.log.info({ phone, room, condition }, 'presence error from a joined room');
        return;
      }
      // A join refused (XEP-0045 §7.2): the membership goes, the phone learns why.
      await this.options.memberships.remove(phone, room);
      this.states.delete(stateKey(phone, room));
      if (condition === 'conflict')
        this.remember(this.failedJoins, conversationKey(phone, via), failedJoin(membership));
      this.reply(phone, via, joinErrorText(condition, text, room, nick));
      return;
    }

    // XEP-0045 §7.2.3: status 110 marks presence about the phone's own occupant.
    const self = codes.has('110') || nick === membership.nick;
    if (type === 'unavailable') {
      if (!self) {
        const newNick = item?.attrs['nick'];
        const occupant = state.occupants.get(nick);
        state.occupants.delete(nick);
        if (codes.has('303') && newNick !== undefined && occupant !== undefined) {
          state.occupants.set(newNick, occupant);
          if (this.options.announce === true) await this.line(membership, `(${nick} is now ${newNick})`);
        } else if (this.options.announce === true && state.joined) {
          await this.line(membership, `(${nick} left${removalNote(codes)})`);
        }
        return;
      }
      if (codes.has('303')) {
        // XEP-0045 §7.6.3: the room confirms the nick change with 303 and the new nick.
        const newNick = item?.attrs['nick'];
        if (newNick === undefined) return;
        await this.options.memberships.put({ ...membership, nick: newNick });
        delete state.pendingNick;
        state.occupants.delete(nick);
        this.reply(phone, via, `You are now ${newNick} in ${room}.`);
        return;
      }
      if (codes.has('332')) {
        // XEP-0045 §7.2.11: the service shut down; the membership stays for the rejoin.
        state.joined = false;
        this.reply(phone, via, `The chat service of ${room} shut down; you will rejoin when it is back.`);
        return;
      }
      await this.options.memberships.remove(phone, room);
      this.states.delete(stateKey(phone, room));
      this.reply(phone, via, `${removalText(x, codes, room)} ${await this.whereTextsGo(phone, via)}`);
      return;
    }

    const occupant: Occupant = {
      role: item?.attrs['role'] ?? 'participant',
      affiliation: item?.attrs['affiliation'] ?? 'none',
    };
    if (!self) {
      const isNew = !state.occupants.has(nick);
      state.occupants.set(nick, occupant);
      if (isNew && state.joined && this.options.announce === true)
        await this.line(membership, `(${nick} joined)`);
      return;
    }
    state.occupants.set(nick, occupant);
    // 210: the service changed the nick; also the second half of a nick change.
    if (nick !== membership.nick) await this.options.memberships.put({ ...membership, nick });
    const joining = state.joining;
    state.joined = true;
    delete state.joining;
    if (codes.has('201')) {
      // XEP-0045 §10.1.2: the phone created the room; accept the default configuration (instant room).
      await this.options.send(
        xml(
          'iq',
          { from: this.occupantJid(phone), to: room, type: 'set', id: randomUUID() },
          xml('query', { xmlns: NS_MUC_OWNER }, xml('x', { xmlns: NS_DATA, type: 'submit' })),
        ),
      );
    }
    if (joining !== undefined && !joining.silent) {
      this.reply(phone, via, this.joinedText({ ...membership, nick }));
    }
  }

  private async onRoomMessage(el: Element, from: Jid, membership: RoomMembership): Promise<void> {
    const type = el.attrs['type'] ?? 'normal';
    const nick = from.resource;
    const body = el.getChildText('body');
    if (type === 'error') {
      const { condition, text } = stanzaError(el);
      this.reply(
        membership.phone,
        membership.via,
        `Not delivered to ${membership.room}: ${text ?? condition}.`,
      );
      return;
    }
    if (type === 'groupchat') {
      // XEP-0045 §7.4: the room reflects the phone's own messages; §7.2.15: history carries <delay/>.
      if (nick === membership.nick || el.getChild('delay', NS_DELAY) !== undefined) return;
      if (body === undefined) {
        const subject = el.getChildText('subject');
        if (subject !== undefined && this.options.announce === true && this.stateOf(membership).joined) {
          await this.line(membership, `(${nick || 'the room'} set the subject: ${subject})`);
        }
        return;
      }
      await this.line(membership, nick === '' ? `[${membership.room}] ${body}` : `(${nick}) ${body}`);
      return;
    }
    // XEP-0045 §7.5: a private message from an occupant.
    if (body !== undefined && nick !== '') await this.line(membership, `(${nick}, privately) ${body}`);
  }

  /** XEP-0045 §7.8.2 mediated and XEP-0249 direct invitations; false when `el` is neither. */
  private async onInvitation(el: Element, from: Jid, phone: string): Promise<boolean> {
    const mucUser = el.getChild('x', NS_MUC_USER);
    const mediated = mucUser?.getChild('invite');
    const direct = el.getChild('x', NS_CONFERENCE);
    let invitation: Invitation & { readonly reason?: string };
    if (mediated !== undefined && mucUser !== undefined) {
      // Prosody 0.12 puts the password inside <invite/> rather than beside it (XEP-0045 §7.8.2).
      const password = mucUser.getChildText('password') ?? mediated.getChildText('password');
      const reason = mediated.getChildText('reason');
      invitation = {
        room: from.bare().toString(),
        inviter: mediated.attrs['from'] ?? from.bare().toString(),
        ...(password === undefined ? {} : { password }),
        ...(reason === undefined || reason === '' ? {} : { reason }),
      };
    } else if (direct !== undefined && mucUser === undefined) {
      const room = tryParseJid(direct.attrs['jid'] ?? '');
      if (room === null || room.local === '') return true;
      invitation = {
        room: room.bare().toString(),
        inviter: from.toString(),
        ...(direct.attrs['password'] === undefined ? {} : { password: direct.attrs['password'] }),
        ...(direct.attrs['reason'] === undefined ? {} : { reason: direct.attrs['reason'] }),
      };
    } else return false;

    if ((await this.options.memberships.get(phone, invitation.room)) !== null) return true;
    const inviterJid = tryParseJid(invitation.inviter);
    // Prosody names the inviter by occupant JID (room/nick): the nick is all the phone can be told.
    const inviter =
      inviterJid !== null && inviterJid.bare().toString() === invitation.room && inviterJid.resource !== ''
        ? inviterJid.resource
        : (inviterJid?.bare().toString() ?? invitation.inviter);
    const inviterNumber =
      inviterJid === null
        ? undefined
        : (await this.options.registrations.get(inviterJid.bare().toString()))?.number;
    const via = inviterNumber ?? (await this.options.memberships.lastNumber(phone)) ?? undefined;
    const refusal =
      via === undefined
        ? `the invitation cannot reach ${phone}: it has no conversation with a number registered with ${this.options.domain}; register yours and invite it directly (XEP-0249)`
        : (await this.options.registrations.isOptedOut(phone, via))
          ? `${phone} has opted out (STOP)`
          : null;
    if (refusal !== null || via === undefined) {
      await this.refuseInvitation(el, from, phone, invitation, mediated !== undefined, refusal ?? '');
      return true;
    }
    this.remember(this.invitations, conversationKey(phone, via), invitation);
    this.reply(
      phone,
      via,
      `You were invited to ${invitation.room} by ${inviter}` +
        (invitation.reason === undefined ? '' : ` ("${invitation.reason}")`) +
        `. Reply YES or /join ${invitation.room} to join.`,
    );
    return true;
  }

  private async refuseInvitation(
    el: Element,
    from: Jid,
    phone: string,
    invitation: Invitation,
    mediated: boolean,
    reason: string,
  ): Promise<void> {
    this.log.info({ phone, room: invitation.room, reason }, 'invitation refused');
    if (mediated) {
      // XEP-0045 §7.8.2: the invitee declines through the room.
      await this.options.send(
        xml(
          'message',
          { from: `${phone}@${this.options.domain}`, to: invitation.room },
          xml(
            'x',
            { xmlns: NS_MUC_USER },
            xml('decline', { to: invitation.inviter }, xml('reason', {}, reason)),
          ),
        ),
      );
      return;
    }
    await this.options.send(
      xml(
        'message',
        { from: `${phone}@${this.options.domain}`, to: from.toString(), id: el.attrs['id'], type: 'error' },
        xml(
          'error',
          { type: 'cancel' },
          xml('not-acceptable', { xmlns: NS_STANZAS }),
          xml('text', { xmlns: NS_STANZAS, 'xml:lang': 'en' }, reason),
        ),
      ),
    );
  }

  // ---- text for the phone ----

  private joinedText(membership: RoomMembership): string {
    const others = [...this.stateOf(membership).occupants.keys()].filter((n) => n !== membership.nick).sort();
    const listed = others.slice(0, NAMES_LISTED).join(', ');
    const more = others.length > NAMES_LISTED ? ` and ${others.length - NAMES_LISTED} more` : '';
    return (
      `You joined ${membership.room} as ${membership.nick}. ` +
      (others.length === 0 ? 'No one else is here. ' : `Here: ${listed}${more}. `) +
      'Your texts now go to this room; /help for commands.'
    );
  }

  private whoText(membership: RoomMembership): string {
    const state = this.stateOf(membership);
    if (!state.joined) return `You are not in ${membership.room} right now; rejoining.`;
    const others = [...state.occupants.entries()]
      .filter(([nick]) => nick !== membership.nick)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([nick, o]) => (o.role === 'moderator' ? `${nick} (mod)` : nick));
    return `${membership.room} (${others.length + 1}): you (${membership.nick})${others.map((n) => `, ${n}`).join('')}`;
  }

  private helpText(owner: Registration): string {
    return [
      'Group chat by SMS:',
      `${USAGE.join} - join (YES accepts an invitation)`,
      `${USAGE.leave} - leave`,
      `${USAGE.nick} - change nick`,
      `${USAGE.msg} - private message`,
      `${USAGE.who} - who is there`,
      `${USAGE.room} - switch rooms`,
      `Other texts go to the room you joined or switched to last; in no room, to ${owner.jid}.`,
      'Start with // to send a text beginning with /. STOP leaves all rooms.',
    ].join('\n');
  }

  private async whereTextsGo(phone: string, via: string, owner?: Registration): Promise<string> {
    const next = (await this.roomsOf(phone, via))[0];
    if (next !== undefined) return `Your texts now go to ${next.room}.`;
    const jid = owner?.jid ?? (await this.options.registrations.byNumber(via))?.jid;
    return jid === undefined ? '' : `Your texts go to ${jid} again.`;
  }

  /** The room a room argument names among the conversation's rooms (JID or local part); the current room without one. */
  private pick(
    rooms: RoomMembership[],
    arg: string | undefined,
    phone: string,
    via: string,
  ): RoomMembership | null {
    if (rooms.length === 0) {
      this.reply(phone, via, `You are in no room. Join one: ${USAGE.join}`);
      return null;
    }
    if (arg === undefined) return rooms[0] ?? null;
    const wanted = arg.toLowerCase();
    const found =
      rooms.find((m) => m.room === (tryParseJid(arg)?.bare().toString() ?? wanted)) ??
      rooms.find((m) => m.room.split('@')[0] === wanted);
    if (found === undefined) {
      this.reply(phone, via, `You are not in ${arg}. Your rooms: ${rooms.map((m) => m.room).join(', ')}`);
      return null;
    }
    return found;
  }

  // ---- plumbing ----

  private async roomsOf(phone: string, via: string): Promise<RoomMembership[]> {
    return (await this.options.memberships.byPhone(phone)).filter((m) => m.via === via);
  }

  private stateOf(membership: RoomMembership): RoomState {
    const key = stateKey(membership.phone, membership.room);
    let state = this.states.get(key);
    if (state === undefined) {
      state = { joined: false, occupants: new Map() };
      this.states.set(key, state);
    }
    return state;
  }

  private occupantJid(phone: string): string {
    return `${phone}@${this.options.domain}/${OCCUPANT_RESOURCE}`;
  }

  /** A room line; with several rooms on one number, the room's name goes first. */
  private async line(membership: RoomMembership, text: string): Promise<void> {
    const rooms = await this.roomsOf(membership.phone, membership.via);
    const prefix = rooms.length > 1 ? `${membership.room.split('@')[0] ?? ''}: ` : '';
    this.batcher.push({ phone: membership.phone, via: membership.via }, prefix + text);
  }

  /** An answer to the phone: it goes out at once, after any room lines already waiting. */
  private reply(phone: string, via: string, text: string): void {
    this.batcher.push({ phone, via }, text, true);
  }

  private async sendSms(target: BatchTarget, text: string): Promise<void> {
    // Nothing goes to a number that opted out (CTIA), not even a line batched before the STOP.
    if (await this.options.registrations.isOptedOut(target.phone, target.via)) return;
    const owner = await this.options.registrations.byNumber(target.via);
    if (owner === null) {
      this.log.warn({ via: target.via }, 'room SMS from a number nobody registers any more; dropped');
      return;
    }
    await this.options.memberships.noteConversation(target.phone, target.via);
    const id = `room-${randomUUID()}`;
    await this.options.queue.enqueue({
      id,
      sms: {
        id,
        from: target.via,
        to: target.phone,
        text,
        wantReport: false,
        ...(owner.account === undefined ? {} : { account: owner.account }),
      },
      sender: '',
      contact: `${target.phone}@${this.options.domain}`,
      stanzaId: '',
      wantReceipt: false,
    });
  }

  private remember<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    map.set(key, value);
    // Oldest first: Map keeps insertion order.
    for (const old of map.keys()) {
      if (map.size <= PENDING_LIMIT) break;
      map.delete(old);
    }
  }
}

function conversationKey(phone: string, via: string): string {
  return `${phone}\u0000${via}`;
}

function stateKey(phone: string, room: string): string {
  return `${phone}\u0000${room}`;
}

function isPhone(local: string): boolean {
  return /^\+[1-9]\d{6,14}$/.test(local);
}

/** The nick `/join room` without one uses: "sms-" and the number's last four digits. */
export function defaultNick(phone: string): string {
  return `sms-${phone.slice(-4)}`;
}

function failedJoin(membership: RoomMembership): FailedJoin {
  return {
    room: membership.room,
    ...(membership.password === undefined ? {} : { password: membership.password }),
  };
}

function stanzaError(el: Element): { condition: string; text?: string } {
  const error = el.getChild('error');
  const condition =
    error?.getChildElements().find((c) => c.getNS() === NS_STANZAS && c.name !== 'text')?.name ??
    'undefined-condition';
  const text = error?.getChildText('text', NS_STANZAS);
  return { condition, ...(text === undefined || text === '' ? {} : { text }) };
}

/** XEP-0045 §7.2 join errors, in words for an SMS. */
export function joinErrorText(
  condition: string,
  text: string | undefined,
  room: string,
  nick: string,
): string {
  switch (condition) {
    case 'conflict':
      return `The nick ${nick} is taken in ${room}. Reply /nick othernick to join with another.`;
    case 'not-authorized':
      return `${room} is password-protected. Ask someone there to invite you; the invitation carries the password.`;
    case 'registration-required':
      return `${room} is members-only and you are not a member. Ask an owner to add you.`;
    case 'forbidden':
      return `You are banned from ${room}.`;
    case 'service-unavailable':
      return `${room} is full or not available.`;
    case 'item-not-found':
      return `${room} does not exist or is locked.`;
    case 'not-allowed':
      return `${room} does not exist and you may not create it.`;
    case 'not-acceptable':
      return `${room} wants your reserved nick; join with it.`;
    case 'jid-malformed':
      return `${nick} cannot be a nick in ${room}.`;
    default:
      return `Could not join ${room}: ${text ?? condition}.`;
  }
}

function removalNote(codes: ReadonlySet<string>): string {
  if (codes.has('301')) return ', banned';
  if (codes.has('307')) return ', kicked';
  return '';
}

/** XEP-0045 §9.1.5, §8.2, §9.3, §10.9: why the phone is out of the room. */
function removalText(x: Element | undefined, codes: ReadonlySet<string>, room: string): string {
  const item = x?.getChild('item');
  const actor = item?.getChild('actor')?.attrs['nick'];
  const reason = item?.getChildText('reason');
  const detail = (actor === undefined ? '' : ` by ${actor}`) + (reason ? ` (${reason})` : '');
  if (codes.has('301')) return `You were banned from ${room}${detail}.`;
  if (codes.has('307')) return `You were kicked from ${room}${detail}.`;
  if (codes.has('321')) return `You were removed from ${room}: your membership ended.`;
  if (codes.has('322')) return `You were removed from ${room}: it is now members-only.`;
  const destroy = x?.getChild('destroy');
  if (destroy !== undefined) {
    const why = destroy.getChildText('reason');
    const venue = destroy.attrs['jid'];
    return (
      `${room} was closed${why ? ` (${why})` : ''}.` +
      (venue === undefined ? '' : ` It continues in ${venue}: /join ${venue}`)
    );
  }
  return `You are no longer in ${room}.`;
}
