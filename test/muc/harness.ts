// Starting the standalone (edge, router and MUC in one process) and logging real @xmpp/client users in.
import { client, xml, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import type { Logger } from '@switchboard/kit';
import type { Standalone } from '@switchboard/standalone';
import { deriveCredentials } from '@switchboard/store';
import { Inbox } from '../e2e/deployments.js';
import {
  quietLogger as supportQuietLogger,
  startStandalone as startTestStandalone,
} from '../support/standalone.js';

export { Inbox } from '../e2e/deployments.js';

export const DOMAIN = 'localhost';
export const MUC_DOMAIN = 'conference.localhost';

export const NS = {
  MUC: 'http://jabber.org/protocol/muc',
  MUC_USER: 'http://jabber.org/protocol/muc#user',
  MUC_ADMIN: 'http://jabber.org/protocol/muc#admin',
  MUC_OWNER: 'http://jabber.org/protocol/muc#owner',
  DISCO_INFO: 'http://jabber.org/protocol/disco#info',
  DISCO_ITEMS: 'http://jabber.org/protocol/disco#items',
  MAM: 'urn:xmpp:mam:2',
  RSM: 'http://jabber.org/protocol/rsm',
  SID: 'urn:xmpp:sid:0',
  DELAY: 'urn:xmpp:delay',
} as const;

export function quietLogger(lines: string[]): Logger {
  return supportQuietLogger('muc-e2e', lines);
}

/** The standalone with its defaults (MUC on at conference.localhost), every port free, state under dataDir. */
export async function startStandalone(
  dataDir: string,
  logs: string[],
): Promise<{ app: Standalone; port: number }> {
  const { app, tcpPort } = await startTestStandalone({
    name: 'muc-e2e',
    service: 'muc-e2e',
    logs,
    dataDir,
    // Close does not wait out the default 10 s drain for clients the tests already stopped.
    drainTimeoutSeconds: 1,
  });
  return { app, port: tcpPort };
}

export async function createAccounts(app: Standalone, users: readonly string[]): Promise<void> {
  for (const user of users)
    await app.store.accounts.create(`${user}@${DOMAIN}`, await deriveCredentials(`${user}-pass`));
}

export interface User {
  readonly jid: string;
  readonly bare: string;
  readonly inbox: Inbox;
  send(stanza: Element): Promise<void>;
  /** An iq round trip; resolves with the response, error responses included. */
  iq(stanza: Element): Promise<Element>;
  stop(): Promise<void>;
}

interface IqCallee {
  set(xmlns: string, name: string, handler: () => object): void;
}

let iqCounter = 0;

/** Logs `user` in (password `${user}-pass`) and sends initial presence. */
export async function login(port: number, user: string, resource = 'e2e'): Promise<User> {
  const xmpp: Client = client({
    service: `xmpp://127.0.0.1:${port}`,
    domain: DOMAIN,
    username: user,
    password: `${user}-pass`,
    resource,
  });
  // The library's 2 s stream-open timeout is too tight for a loaded test machine.
  (xmpp as unknown as { timeout: number }).timeout = 15_000;
  xmpp.reconnect.stop();
  const inbox = new Inbox();
  xmpp.on('stanza', (s: Element) => inbox.push(s));
  xmpp.on('error', () => undefined);
  // Roster pushes need a result (RFC 6121 §2.1.6).
  (xmpp as unknown as { iqCallee: IqCallee }).iqCallee.set('jabber:iq:roster', 'query', () => ({}));
  await xmpp.start();
  const jid = xmpp.jid?.toString() ?? `${user}@${DOMAIN}/${resource}`;
  const send = (stanza: Element): Promise<void> => xmpp.send(stanza);
  const iq = async (stanza: Element): Promise<Element> => {
    const id = `muc-e2e-${++iqCounter}`;
    stanza.attrs['id'] = id;
    await send(stanza);
    return inbox.next((s) => s.name === 'iq' && s.attrs['id'] === id, `the answer to iq ${id}`, 10_000);
  };
  await send(xml('presence'));
  return { jid, bare: `${user}@${DOMAIN}`, inbox, send, iq, stop: () => xmpp.stop().then(() => undefined) };
}

// ---- stanza predicates and builders

export const from = (jid: string) => (s: Element) => s.attrs['from'] === jid;
export const presenceFrom = (jid: string, type?: string) => (s: Element) =>
  s.name === 'presence' && s.attrs['from'] === jid && s.attrs['type'] === type;
export const groupchatFrom = (jid: string) => (s: Element) =>
  s.name === 'message' &&
  s.attrs['type'] === 'groupchat' &&
  s.attrs['from'] === jid &&
  s.getChild('body') !== undefined;

export function statusCodes(s: Element): string[] {
  return (
    s
      .getChild('x', NS.MUC_USER)
      ?.getChildren('status')
      .map((c) => String(c.attrs['code'])) ?? []
  );
}

export function errorCondition(s: Element): string | undefined {
  return s.getChild('error')?.children.find((c): c is Element => typeof c !== 'string')?.name;
}

export function joinPresence(room: string, nick: string, ...children: Element[]): Element {
  return xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: NS.MUC }, ...children));
}

/** Submits the muc#roomconfig form with the given fields (XEP-0045 §10.2). */
export function configure(room: string, fields: Record<string, string>): Element {
  return xml(
    'iq',
    { type: 'set', to: room },
    xml(
      'query',
      { xmlns: NS.MUC_OWNER },
      xml(
        'x',
        { xmlns: 'jabber:x:data', type: 'submit' },
        xml('field', { var: 'FORM_TYPE' }, xml('value', {}, 'http://jabber.org/protocol/muc#roomconfig')),
        ...Object.entries(fields).map(([name, value]) =>
          xml('field', { var: `muc#roomconfig_${name}` }, xml('value', {}, value)),
        ),
      ),
    ),
  );
}
