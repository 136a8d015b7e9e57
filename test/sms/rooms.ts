// Helpers for the SMS-users-in-rooms tests: XEP-0045 from the XMPP clients' side, and reading what a
// test SMSC received for one phone.
import { xml } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { Inbox as ItemInbox } from '@switchboard/testkit';
import type { Element as GatewayElement } from '@switchboard/xml';
import { decodeGsm7 } from '../../services/sms-gateway/src/sms/encoding.js';
import type { TestSmsc, ReceivedPdu } from '../../services/sms-gateway/src/providers/test/smsc.js';
import type { Transport } from '../../services/sms-gateway/src/transports/index.js';
import type { User } from './harness.js';

export const NS_MUC = 'http://jabber.org/protocol/muc';
export const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
export const NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
export const NS_MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';

export const statusCodes = (s: Element): string[] =>
  (s.getChild('x', NS_MUC_USER)?.getChildren('status') ?? []).map((c) => c.attrs['code'] as string);

/** Presence from an occupant JID (`room/nick`), available unless `type` says otherwise. */
export const isPresenceFrom =
  (occupant: string, type?: string) =>
  (s: Element): boolean =>
    s.is('presence') && s.attrs['from'] === occupant && s.attrs['type'] === type;

export const isGroupchatFrom =
  (occupant: string, body?: string) =>
  (s: Element): boolean =>
    s.is('message') &&
    s.attrs['type'] === 'groupchat' &&
    s.attrs['from'] === occupant &&
    (body === undefined || s.getChildText('body') === body);

/**
 * XEP-0045 §7.2: enter `room` as `nick` and wait for the self-presence (status 110); a room this
 * creates is accepted as an instant room (§10.1.2).
 */
export async function enterRoom(user: User, room: string, nick: string): Promise<void> {
  await user.send(xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: NS_MUC })));
  const self = await user.inbox.next(
    (s) => isPresenceFrom(`${room}/${nick}`)(s) && statusCodes(s).includes('110'),
    `${user.bare}'s self-presence in ${room}`,
    10_000,
  );
  if (statusCodes(self).includes('201')) {
    await user.iq(
      xml(
        'iq',
        { type: 'set', to: room },
        xml('query', { xmlns: NS_MUC_OWNER }, xml('x', { xmlns: 'jabber:x:data', type: 'submit' })),
      ),
    );
  }
}

/** The text of one submit_sm: GSM-7 (data_coding 0) decoded, anything else as the smpp package gave it. */
export function smsText(r: ReceivedPdu): string {
  const sm = r.pdu['short_message'] as { message: string | Buffer };
  if (typeof sm.message === 'string') return sm.message;
  return Number(r.pdu['data_coding'] ?? 0) === 0
    ? decodeGsm7(new Uint8Array(sm.message))
    : sm.message.toString('latin1');
}

/** The SMS a test SMSC sends to phones, read in order per phone, waited for when not there yet. */
export class PhoneOutbox {
  private readonly read = new Set<number>();

  constructor(private readonly smsc: TestSmsc) {}

  /** The first unread SMS to `phone` whose text contains `fragment`. */
  async next(phone: string, fragment: string, timeoutMs = 10_000): Promise<{ text: string; from: string }> {
    const find = (): number =>
      this.smsc.submits.findIndex(
        (r, i) =>
          !this.read.has(i) && r.pdu['destination_addr'] === phone.slice(1) && smsText(r).includes(fragment),
      );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const seen = this.smsc.submits
          .filter((r) => r.pdu['destination_addr'] === phone.slice(1))
          .map((r) => JSON.stringify(smsText(r)));
        reject(new Error(`no SMS to ${phone} containing "${fragment}"; it got: ${seen.join(', ')}`));
      }, timeoutMs);
    });
    try {
      await Promise.race([this.smsc.until(() => find() >= 0), timeout]);
    } finally {
      clearTimeout(timer);
    }
    const index = find();
    this.read.add(index);
    const pdu = this.smsc.submits[index]!.pdu;
    return { text: smsText(this.smsc.submits[index]!), from: `+${String(pdu['source_addr'])}` };
  }

  /** Every SMS to `phone` so far, read or not. */
  all(phone: string): string[] {
    return this.smsc.submits.filter((r) => r.pdu['destination_addr'] === phone.slice(1)).map(smsText);
  }
}

/** A transport that also records every stanza the gateway receives, for awaiting what the room answered. */
export function observed(transport: Transport): Transport & { readonly received: ItemInbox<GatewayElement> } {
  const received = new ItemInbox<GatewayElement>();
  return {
    received,
    start: (onStanza, hooks) =>
      transport.start((el, incoming) => {
        received.push(el);
        return onStanza(el, incoming);
      }, hooks),
    send: (el) => transport.send(el),
    stop: () => transport.stop(),
  };
}

/** XEP-0045 §10.2: the owner submits a muc#roomconfig form with these fields. */
export async function configureRoom(
  owner: User,
  room: string,
  fields: Record<string, string>,
): Promise<void> {
  await owner.iq(
    xml(
      'iq',
      { type: 'set', to: room },
      xml(
        'query',
        { xmlns: NS_MUC_OWNER },
        xml(
          'x',
          { xmlns: 'jabber:x:data', type: 'submit' },
          xml('field', { var: 'FORM_TYPE' }, xml('value', {}, 'http://jabber.org/protocol/muc#roomconfig')),
          ...Object.entries(fields).map(([name, value]) =>
            xml('field', { var: name }, xml('value', {}, value)),
          ),
        ),
      ),
    ),
  );
}
