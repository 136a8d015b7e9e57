import type { RosterItem } from '../states.js';
import {
  inboundSubscription,
  outboundSubscription,
  type SubscriptionOptions,
  type SubscriptionType,
} from '../subscription.js';
import { applyRosterSet, rosterRemove, type RosterSetRequest } from '../roster-set.js';
import { visibleItem, type VisibleRosterItem } from '../view.js';

export type Effect =
  | {
      readonly kind: 'push';
      readonly user: string;
      readonly item: VisibleRosterItem | { jid: string; subscription: 'remove' };
    }
  | {
      readonly kind: 'deliver';
      readonly user: string;
      readonly from: string;
      readonly type: SubscriptionType;
    }
  | { readonly kind: 'presence'; readonly from: string; readonly to: string; readonly available: boolean };

/**
 * Two users on two servers, each server running the subscription functions
 * on its own user's records, stanzas passed between them at once. Mirrors
 * what the router does in each user's partition.
 */
export class TwoServers {
  private readonly records = new Map<string, RosterItem>();
  readonly effects: Effect[] = [];

  constructor(private readonly options: SubscriptionOptions = {}) {}

  record(user: string, contact: string): RosterItem | null {
    return this.records.get(`${user} ${contact}`) ?? null;
  }

  /** `user`'s client sends a subscription stanza of `type` to `contact`. */
  send(user: string, contact: string, type: SubscriptionType, xml?: string): void {
    const out = outboundSubscription(this.record(user, contact), type, contact, this.options);
    this.store(user, contact, out.item, out.rosterPush);
    this.presence(user, contact, out.sendPresence, out.sendUnavailable);
    if (out.forward) this.receive(contact, user, type, xml);
  }

  /** `user`'s client removes `contact` from its roster (RFC 6121 §2.5). */
  remove(user: string, contact: string): boolean {
    const before = this.record(user, contact);
    const removal = rosterRemove(before);
    if (removal === null) return false;
    this.store(user, contact, null, true);
    this.presence(user, contact, false, removal.sendUnavailable);
    for (const type of removal.send) this.receive(contact, user, type);
    return true;
  }

  /** `user`'s client adds or updates `contact` with a roster set (RFC 6121 §2.4). */
  rosterSet(user: string, contact: string, request: RosterSetRequest): void {
    this.store(user, contact, applyRosterSet(this.record(user, contact), contact, request), true);
  }

  /** `user`'s server receives a subscription stanza of `type` from `contact`. */
  private receive(user: string, contact: string, type: SubscriptionType, xml?: string): void {
    const options = xml === undefined ? this.options : { ...this.options, stanzaXml: xml };
    const inb = inboundSubscription(this.record(user, contact), type, contact, options);
    this.store(user, contact, inb.item, inb.rosterPush);
    if (inb.deliverToUser) this.effects.push({ kind: 'deliver', user, from: contact, type });
    this.presence(user, contact, inb.sendPresence, inb.sendUnavailable);
    // The auto-reply comes from the server, not the user's client: it skips outbound processing.
    if (inb.autoReply !== undefined) this.receive(contact, user, inb.autoReply);
  }

  private store(user: string, contact: string, item: RosterItem | null, push: boolean): void {
    if (item === null) this.records.delete(`${user} ${contact}`);
    else this.records.set(`${user} ${contact}`, item);
    if (push)
      this.effects.push({
        kind: 'push',
        user,
        item: visibleItem(item) ?? { jid: contact, subscription: 'remove' },
      });
  }

  private presence(user: string, contact: string, available: boolean, unavailable: boolean): void {
    if (available) this.effects.push({ kind: 'presence', from: user, to: contact, available: true });
    if (unavailable) this.effects.push({ kind: 'presence', from: user, to: contact, available: false });
  }

  /** Effects since the last call. */
  take(): Effect[] {
    return this.effects.splice(0);
  }
}
