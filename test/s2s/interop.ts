// Building blocks of the federation tests against other servers (Prosody, ejabberd): an embedded
// Switchboard with s2s on loopback, users logged in with @xmpp/client, and the exchanges (chat,
// subscription) each test runs in both directions.
import { client, xml, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import {
  build as buildSwitchboard,
  type Standalone,
  type StandaloneConfigInput,
} from '@switchboard/standalone';
import { Inbox } from '../e2e/deployments.js';
import { quietLogger } from '../support/standalone.js';
import { TLS_CERT, TLS_KEY } from './harness.js';

/**
 * A standalone Switchboard serving `domain`, its c2s and s2s on loopback ports of the system's
 * choosing; `name` names its logger (lines go to `logs`) and its SASL fake-salt secret. Unless
 * `s2s` says otherwise, s2s listens for STARTTLS only and resolves no names by DNS.
 */
export function buildFederatingSwitchboard(options: {
  readonly name: string;
  readonly dataDir: string;
  readonly domain: string;
  readonly s2s: NonNullable<StandaloneConfigInput['s2s']>;
  readonly logs: string[];
}): Standalone {
  return buildSwitchboard(
    {
      dataDir: options.dataDir,
      domains: [options.domain],
      edge: {
        host: '127.0.0.1',
        ports: { starttls: 0, directTls: 0, http: 0 },
        tls: { keyFile: TLS_KEY, certFile: TLS_CERT },
        sasl: { fakeSaltSecret: `${options.name}-fake-salt-secret` },
      },
      s2s: {
        enabled: true,
        host: '127.0.0.1',
        ports: { starttls: 0, directTls: null },
        dns: false,
        ...options.s2s,
      },
    },
    { logger: quietLogger(options.name, options.logs) },
  );
}

export interface User {
  readonly bare: string;
  readonly xmpp: Client;
  readonly inbox: Inbox;
}

/** Logs `username@domain` in over plain TCP on `port` and sends initial presence. */
export async function login(port: number, domain: string, username: string, password: string): Promise<User> {
  const xmpp = client({ service: `xmpp://127.0.0.1:${port}`, domain, username, password, resource: 'test' });
  xmpp.reconnect.stop();
  const inbox = new Inbox();
  xmpp.on('stanza', (s: Element) => inbox.push(s));
  xmpp.on('error', () => undefined);
  // Roster pushes (RFC 6121 §2.1.6) come with subscriptions; they need a result.
  (xmpp as unknown as { iqCallee: { set(ns: string, n: string, h: () => object): void } }).iqCallee.set(
    'jabber:iq:roster',
    'query',
    () => ({}),
  );
  await xmpp.start();
  // Messages to a bare JID reach only available resources (RFC 6121 §8.5.2.1.1).
  await xmpp.send(xml('presence'));
  return { bare: `${username}@${domain}`, xmpp, inbox };
}

const localpart = (user: User): string => user.bare.split('@')[0]!;

/** Whether `s` comes from `bare` or one of its resources. */
export const sentBy = (s: Element, bare: string): boolean =>
  ((s.attrs['from'] as string | undefined) ?? '').startsWith(bare);

export const chatFrom = (bare: string, body: string) => (s: Element) =>
  s.is('message') && sentBy(s, bare) && s.getChildText('body') === body;

/** `sender` sends a chat message to `recipient`'s bare JID, and it arrives. */
export async function chat(
  sender: User,
  recipient: User,
  id: string,
  body: string,
  timeoutMs: number,
): Promise<void> {
  await sender.xmpp.send(xml('message', { to: recipient.bare, type: 'chat', id }, xml('body', {}, body)));
  await recipient.inbox.next(chatFrom(sender.bare, body), `message from ${localpart(sender)}`, timeoutMs);
}

/**
 * `subscriber` asks for `contact`'s presence, `contact` approves, and `subscriber` then gets
 * `contact`'s current presence (RFC 6121 §3.1).
 */
export async function subscribe(subscriber: User, contact: User, timeoutMs: number): Promise<void> {
  await subscriber.xmpp.send(xml('presence', { to: contact.bare, type: 'subscribe' }));
  // RFC 6121 §3.1.2: the subscriber's server stamps the request with its bare JID.
  await contact.inbox.next(
    (s) => s.is('presence') && s.attrs['type'] === 'subscribe' && s.attrs['from'] === subscriber.bare,
    `subscribe at ${localpart(contact)}`,
    timeoutMs,
  );
  await contact.xmpp.send(xml('presence', { to: subscriber.bare, type: 'subscribed' }));
  await subscriber.inbox.next(
    (s) => s.is('presence') && s.attrs['type'] === undefined && sentBy(s, contact.bare),
    `presence of ${localpart(contact)} at ${localpart(subscriber)}`,
    timeoutMs,
  );
}
