// The IRC gateway end to end: @xmpp/client users of embedded Switchboard, the gateway on the
// standalone's in-process bus (`svc:irc.localhost`), and a real ngircd with plain IRC clients.
import { xml } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import type { Logger } from '@switchboard/kit';
import { build as buildGateway, type IrcGatewayApp } from '../../services/irc-gateway/src/app.js';
import { toIrcGatewayConfig, ircGatewaySettingsSchema } from '../../services/irc-gateway/src/config.js';
import { openSqliteMemberships } from '../../services/irc-gateway/src/persistence/sqlite.js';
import type { Memberships } from '../../services/irc-gateway/src/persistence/memberships.js';
import { busTransport } from '../../services/irc-gateway/src/transports/index.js';
import type { Transport } from '../../services/irc-gateway/src/transports/index.js';
import {
  login as supportLogin,
  quietLogger as supportQuietLogger,
  startStandalone,
  type TestStandalone,
  type User,
} from '../support/standalone.js';

export { Inbox } from '../e2e/deployments.js';
export type { User };

export const DOMAIN = 'localhost';
export const IRC_DOMAIN = 'irc.localhost';
export { TLS_CERT, TLS_DH, TLS_KEY } from '../support/paths.js';
export const NS_MUC = 'http://jabber.org/protocol/muc';
export const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';

/** A logger whose lines are kept for a failed test's report instead of printed. */
export function quietLogger(service: string, lines: string[]): Logger {
  return supportQuietLogger(service, lines, 'info');
}

export type Switchboard = TestStandalone & { readonly componentPort: number };

/** Embedded Switchboard with `irc.localhost` routed to `svc:irc.localhost` (and admitted as a XEP-0114 component). */
export async function startSwitchboard(logs: string[]): Promise<Switchboard> {
  const switchboard = await startStandalone({
    name: 'irc-e2e',
    service: 'irc-e2e-switchboard',
    logs,
    logLevel: 'info',
    components: [{ domain: IRC_DOMAIN, secret: 'irc-e2e-secret' }],
  });
  return { ...switchboard, componentPort: switchboard.componentPort ?? 0 };
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

export function login(port: number, username: string, password: string, domain = DOMAIN): Promise<User> {
  return supportLogin(port, username, password, { resource: 'irc-test', iqTimeoutMs: 20_000, domain });
}

/** XEP-0045 §7.2.2: entering a room. */
export function joinPresence(occupant: string, id?: string): Element {
  return xml('presence', { to: occupant, id }, xml('x', { xmlns: NS_MUC }));
}

export { errorCondition } from '../support/standalone.js';

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
