import { randomUUID } from 'node:crypto';
import { tryParseJid } from '@switchboard/jid';
import type { Logger } from '@switchboard/kit';
import { xml, type Element } from '@switchboard/xml';
import type { MucStorage, RoomConfig } from '../storage/storage.js';
import { defaultRoomConfig } from './config-form.js';
import { NS } from './namespaces.js';
import { Room, bareOf, type RoomContext } from './room.js';
import { StanzaError, errorReply } from './stanza-error.js';

export interface MucServiceOptions {
  /** The service's domain, e.g. `conference.example.com`. */
  readonly domain: string;
  readonly storage: MucStorage;
  /** Hands one stanza to the transport; `from` and `to` are set. */
  readonly send: (el: Element) => Promise<void>;
  readonly logger: Logger;
  /** Shown in the service's disco identity. */
  readonly name?: string;
  /** Configuration of new rooms before their owner changes it. */
  readonly roomDefaults?: Partial<RoomConfig>;
  readonly historyDefault?: number;
  readonly historyMax?: number;
  readonly now?: () => number;
  readonly newId?: () => string;
}

/**
 * The XEP-0045 service at one domain: finds or creates the room a stanza is
 * for and hands it the stanza. Stanzas for one room are handled one at a
 * time, in arrival order, by a queue per room; rooms never share state, so
 * different rooms proceed concurrently.
 */
export class MucService {
  readonly domain: string;
  private readonly rooms = new Map<string, Room>();
  private readonly queues = new Map<string, Promise<void>>();
  private readonly ctx: RoomContext;

  constructor(private readonly options: MucServiceOptions) {
    this.domain = options.domain;
    this.ctx = {
      storage: options.storage,
      send: options.send,
      now: options.now ?? Date.now,
      newId: options.newId ?? randomUUID,
      logger: options.logger,
      historyDefault: options.historyDefault ?? 20,
      historyMax: options.historyMax ?? 100,
    };
  }

  /**
   * Called once this process owns the service: occupants did not survive the
   * previous owner, so temporary rooms (which exist only while occupied) are gone.
   */
  async start(): Promise<void> {
    for (const record of await this.options.storage.listRooms())
      if (!record.config.persistent) await this.options.storage.deleteRoom(record.jid);
  }

  /**
   * Handles one stanza to the service, a room or an occupant; resolves when its effects are done.
   * `key` is unique per stanza and stable across redeliveries (see Room.handle).
   */
  handle(stanza: Element, key?: string): Promise<void> {
    const to = tryParseJid(stanza.attrs['to'] ?? '');
    const from = stanza.attrs['from'];
    if (from === undefined || tryParseJid(from) === null) return Promise.resolve();
    if (to?.domain !== this.domain) return Promise.resolve();
    if (to.local === '') return this.serialized(`service:${this.domain}`, () => this.onService(stanza));
    const room = to.bare().toString();
    return this.serialized(room, () => this.onRoom(stanza, room, to.resource, key));
  }

  /** Tells occupants of every active room that the service is stopping (status 332). */
  async shutdown(): Promise<void> {
    await Promise.all([...this.queues.values()]);
    for (const room of this.rooms.values()) await room.shutdownNotice();
    this.rooms.clear();
  }

  private serialized(key: string, work: () => Promise<void>): Promise<void> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const run = previous.then(work);
    const settled = run.catch(() => undefined);
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return run;
  }

  private async onRoom(stanza: Element, jid: string, nick: string, key: string | undefined): Promise<void> {
    let room = this.rooms.get(jid);
    if (room === undefined) {
      const record = await this.options.storage.getRoom(jid);
      if (record !== null) {
        room = new Room(this.ctx, record, false);
        this.rooms.set(jid, room);
      }
    }
    if (room === undefined) {
      await this.onMissingRoom(stanza, jid, nick);
      return;
    }
    const outcome = await room.handle(stanza, nick, key);
    if (outcome === 'destroyed') this.rooms.delete(jid);
    else if (outcome === 'empty') {
      this.rooms.delete(jid);
      // §10.1.1 / muc_temporary: a temporary room ends with its last occupant; a persistent one stays stored.
      if (!room.config.persistent || room.isLocked) await this.options.storage.deleteRoom(jid);
    }
  }

  /** A stanza for a room that does not exist: an available presence creates it (§10.1), the rest is item-not-found. */
  private async onMissingRoom(stanza: Element, jid: string, nick: string): Promise<void> {
    const type = stanza.attrs['type'];
    if (stanza.name === 'presence' && type === undefined && nick !== '') {
      const from = stanza.attrs['from'] ?? '';
      // §10.1.1: with <x xmlns='…muc'/> the room stays locked until configured; old clients get an instant room.
      const mucAware = stanza.getChild('x', NS.MUC) !== undefined;
      const room = new Room(
        this.ctx,
        {
          jid,
          config: defaultRoomConfig(this.options.roomDefaults),
          affiliations: { [bareOf(from)]: 'owner' },
          subject: null,
          createdAt: this.ctx.now(),
        },
        mucAware,
      );
      this.rooms.set(jid, room);
      const outcome = await room.create(stanza, nick);
      if (outcome !== 'active') {
        this.rooms.delete(jid);
        await this.options.storage.deleteRoom(jid);
      }
      return;
    }
    if (type === 'error' || type === 'result' || (stanza.name === 'presence' && type !== undefined)) return;
    await this.options.send(errorReply(stanza, new StanzaError('item-not-found', 'no such room'), jid));
  }

  private async onService(stanza: Element): Promise<void> {
    if (stanza.name !== 'iq') {
      const type = stanza.attrs['type'];
      if (stanza.name === 'message' && type !== 'error')
        await this.options.send(errorReply(stanza, new StanzaError('service-unavailable')));
      return;
    }
    const type = stanza.attrs['type'];
    if (type === 'result' || type === 'error') return;
    const query = stanza.getChildElements()[0];
    let payload: Element | undefined;
    if (type === 'get' && query?.is('query', NS.DISCO_INFO) === true) {
      // XEP-0045 §6.1: the service is a conference/text entity speaking muc.
      payload = xml(
        'query',
        { xmlns: NS.DISCO_INFO },
        xml('identity', { category: 'conference', type: 'text', name: this.options.name ?? 'Chatrooms' }),
        [NS.MUC, NS.DISCO_INFO, NS.DISCO_ITEMS, NS.PING, NS.SID].map((v) => xml('feature', { var: v })),
      );
    } else if (type === 'get' && query?.is('query', NS.DISCO_ITEMS) === true) {
      // §6.3: public rooms only; hidden ones are not listed.
      const rooms = (await this.options.storage.listRooms()).filter((r) => r.config.public);
      payload = xml(
        'query',
        { xmlns: NS.DISCO_ITEMS },
        rooms.map((r) => xml('item', { jid: r.jid, name: r.config.name === '' ? undefined : r.config.name })),
      );
    } else if (type === 'get' && query?.is('ping', NS.PING) === true) {
      payload = undefined;
    } else {
      await this.options.send(errorReply(stanza, new StanzaError('service-unavailable')));
      return;
    }
    await this.options.send(
      xml(
        'iq',
        { from: this.domain, to: stanza.attrs['from'], id: stanza.attrs['id'], type: 'result' },
        payload,
      ),
    );
  }
}
