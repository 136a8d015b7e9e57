// The IRC gateway end to end: @xmpp/client users of embedded Switchboard, the gateway on the
// standalone's in-process bus (`svc:irc.localhost`), and a real ngircd with plain IRC clients.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { client, xml, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { createLogger, type Logger } from '@switchboard/kit';
import { build as buildSwitchboard, type Standalone } from '@switchboard/standalone';
import { deriveCredentials } from '@switchboard/store';
import { build as buildGateway, type IrcGatewayApp } from '../../services/irc-gateway/src/app.js';
import { toIrcGatewayConfig, ircGatewaySettingsSchema } from '../../services/irc-gateway/src/config.js';
import { openSqliteMemberships } from '../../services/irc-gateway/src/persistence/sqlite.js';
import type { Memberships } from '../../services/irc-gateway/src/persistence/memberships.js';
import { busTransport } from '../../services/irc-gateway/src/transports/index.js';
import type { Transport } from '../../services/irc-gateway/src/transports/index.js';
import { Inbox, ROOT } from '../e2e/deployments.js';

export { Inbox } from '../e2e/deployments.js';

export const DOMAIN = 'localhost';
export const IRC_DOMAIN = 'irc.localhost';
export const TLS_KEY = join(ROOT, 'test/fixtures/tls/server.key');
export const TLS_CERT = join(ROOT, 'test/fixtures/tls/server.pem');
export const NS_MUC = 'http://jabber.org/protocol/muc';
export const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** A logger whose lines are kept for a failed test's report instead of printed. */
export function quietLogger(service: string, lines: string[]): Logger {
  return createLogger({
    service,
    level: 'info',
    destination: { write: (line: string) => void lines.push(line) },
  });
}

export interface Switchboard {
  readonly app: Standalone;
  readonly tcpPort: number;
  readonly componentPort: number;
  createAccount(user: string, password: string): Promise<void>;
  stop(): Promise<void>;
}

/** Embedded Switchboard with `irc.localhost` routed to `svc:irc.localhost` (and admitted as a XEP-0114 component). */
export async function startSwitchboard(logs: string[]): Promise<Switchboard> {
  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-irc-'));
  const app = buildSwitchboard(
    {
      dataDir,
      components: [{ domain: IRC_DOMAIN, secret: 'irc-e2e-secret' }],
      edge: {
        host: '127.0.0.1',
        ports: { starttls: 0, directTls: 0, http: 0, component: 0 },
        tls: { keyFile: TLS_KEY, certFile: TLS_CERT },
        sasl: { fakeSaltSecret: 'irc-e2e-fake-salt-secret' },
      },
    },
    { logger: quietLogger('irc-e2e-switchboard', logs) },
  );
  const ports = await app.start();
  return {
    app,
    tcpPort: ports.tcpPort,
    componentPort: ports.componentPort ?? 0,
    async createAccount(user, password) {
      await app.store.accounts.create(`${user}@${DOMAIN}`, await deriveCredentials(password));
    },
    async stop() {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

type Bus = Parameters<typeof busTransport>[0]['bus'];

export interface GatewayOptions {
  readonly ircPort: number;
  readonly memberships: Memberships;
  readonly logger: Logger;
  readonly bus?: Bus;
  readonly transport?: Transport;
  readonly unreachablePort?: number;
  readonly lingerMs?: number;
  /** IRC servers reached over TLS, by name: their TLS port. */
  readonly tlsServers?: Readonly<Record<string, number>>;
  readonly insecureServers?: readonly string[];
}

/** The gateway as main.ts wires it, on a bus or another transport, reaching ngircd at 127.0.0.1 over plain TCP. */
export async function startGateway(options: GatewayOptions): Promise<IrcGatewayApp> {
  const settings = ircGatewaySettingsSchema.parse({
    domain: IRC_DOMAIN,
    servers: {
      '127.0.0.1': { port: options.ircPort, tls: false },
      ...(options.unreachablePort === undefined
        ? {}
        : { localhost: { port: options.unreachablePort, tls: false } }),
      ...Object.fromEntries(
        Object.entries(options.tlsServers ?? {}).map(([name, port]) => [name, { port, tls: true }]),
      ),
    },
    insecureServers: options.insecureServers ?? [],
    lingerMs: options.lingerMs ?? 200,
    // Generous for tests; ngircd's own fake lag still applies.
    flood: { burst: 20, perSecond: 20 },
    reconnect: { initialMs: 100, maxMs: 1000 },
  });
  const transport =
    options.transport ??
    busTransport({
      bus: options.bus!,
      domain: IRC_DOMAIN,
      partitions: 1,
      consumer: 'irc-test',
      logger: options.logger,
    });
  const app = buildGateway(toIrcGatewayConfig(settings), {
    transport,
    memberships: options.memberships,
    logger: options.logger,
  });
  await app.start();
  return app;
}

export function openMemberships(path: string): Memberships {
  return openSqliteMemberships({ path });
}

// ---- XMPP clients ----

interface IqCaller {
  request(el: Element, timeout?: number): Promise<Element>;
}
interface IqCallee {
  set(xmlns: string, name: string, handler: () => object): void;
}

export interface User {
  readonly jid: string;
  readonly bare: string;
  readonly xmpp: Client;
  readonly inbox: Inbox;
  send(stanza: Element): Promise<void>;
  iq(stanza: Element): Promise<Element>;
  stop(): Promise<void>;
}

export async function login(
  port: number,
  username: string,
  password: string,
  domain = DOMAIN,
): Promise<User> {
  const xmpp = client({
    service: `xmpp://127.0.0.1:${port}`,
    domain,
    username,
    password,
    resource: 'irc-test',
  });
  xmpp.reconnect.stop();
  const inbox = new Inbox();
  xmpp.on('stanza', (s: Element) => inbox.push(s));
  xmpp.on('error', () => undefined);
  (xmpp as unknown as { iqCallee: IqCallee }).iqCallee.set('jabber:iq:roster', 'query', () => ({}));
  await xmpp.start();
  const caller = (xmpp as unknown as { iqCaller: IqCaller }).iqCaller;
  const iq = (stanza: Element): Promise<Element> => caller.request(stanza, 20_000);
  await xmpp.send(xml('presence'));
  await iq(xml('iq', { type: 'get', to: domain }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
  return {
    jid: xmpp.jid?.toString() ?? `${username}@${domain}/irc-test`,
    bare: `${username}@${domain}`,
    xmpp,
    inbox,
    send: (stanza) => xmpp.send(stanza),
    iq,
    stop: () => xmpp.stop().then(() => undefined),
  };
}

/** XEP-0045 §7.2.2: entering a room. */
export function joinPresence(occupant: string, id?: string): Element {
  return xml('presence', { to: occupant, id }, xml('x', { xmlns: NS_MUC }));
}

export function errorCondition(stanza: Element): string | undefined {
  const error = stanza.getChild('error');
  return error?.children.find(
    (c): c is Element => typeof c !== 'string' && c.attrs['xmlns'] === NS_STANZAS && c.name !== 'text',
  )?.name;
}

export function statusCodes(stanza: Element): string[] {
  return (
    stanza
      .getChild('x', NS_MUC_USER)
      ?.getChildren('status')
      .map((s) => s.attrs['code'] as string) ?? []
  );
}

export function item(stanza: Element): Record<string, string | undefined> {
  return stanza.getChild('x', NS_MUC_USER)?.getChild('item')?.attrs ?? {};
}

export const isPresenceFrom =
  (from: string, type?: string) =>
  (s: Element): boolean =>
    s.is('presence') && s.attrs['from'] === from && s.attrs['type'] === type;

export const isGroupchatFrom =
  (from: string) =>
  (s: Element): boolean =>
    s.is('message') &&
    s.attrs['type'] === 'groupchat' &&
    s.attrs['from'] === from &&
    s.getChild('body') !== undefined;
