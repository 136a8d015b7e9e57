// The standalone (edge, router and its default services in one process) on free ports with a temp
// dataDir, the test certificate and a logger that keeps its lines for a failed test's report; and
// @xmpp/client users logged in to it (or to any server trusting the test CA, such as test Prosody).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { client, xml, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { createLogger, type Logger } from '@switchboard/kit';
import { build, type Standalone } from '@switchboard/standalone';
import { deriveCredentials } from '@switchboard/store';
import { Inbox } from '../e2e/deployments.js';
import { TLS_CERT, TLS_KEY } from './paths.js';

export const DOMAIN = 'localhost';

/** A logger whose lines are kept for a failed test's report instead of printed. */
export function quietLogger(service: string, lines: string[], level: 'info' | 'warn' = 'warn'): Logger {
  return createLogger({
    service,
    level,
    destination: { write: (line: string) => void lines.push(line) },
  });
}

type StandaloneInput = Parameters<typeof build>[0];

export interface StandaloneOptions {
  /** Names the temp dataDir (`switchboard-<name>-…`) and the SASL fake-salt secret (`<name>-fake-salt-secret`). */
  readonly name: string;
  /** The logger's `service` field. */
  readonly service: string;
  readonly logs: string[];
  /** State kept across a restart: the caller's dir, which stop() leaves in place; a fresh temp dir without it. */
  readonly dataDir?: string;
  readonly logLevel?: 'info' | 'warn';
  /** XEP-0114 components the edge admits, routed to `svc:<domain>`. */
  readonly components?: NonNullable<StandaloneInput['components']>;
  /** How long close() waits for clients to leave; the default 10 s is long for clients a test already stopped. */
  readonly drainTimeoutSeconds?: number;
  readonly upload?: StandaloneInput['upload'];
}

export interface TestStandalone {
  readonly app: Standalone;
  readonly dataDir: string;
  readonly tcpPort: number;
  /** The edge's XEP-0114 listener. */
  readonly componentPort: number | null;
  createAccount(user: string, password: string): Promise<void>;
  /** Closes the standalone and removes its dataDir unless the caller gave it. */
  stop(): Promise<void>;
}

/** Builds and starts the standalone on 127.0.0.1 with every port free and its state in a temp dir. */
export async function startStandalone(options: StandaloneOptions): Promise<TestStandalone> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), `switchboard-${options.name}-`)));
  const app = build(
    {
      dataDir,
      ...(options.components === undefined ? {} : { components: options.components }),
      edge: {
        host: '127.0.0.1',
        ports: { starttls: 0, directTls: 0, http: 0, component: 0 },
        ...(options.drainTimeoutSeconds === undefined
          ? {}
          : { limits: { drainTimeoutSeconds: options.drainTimeoutSeconds } }),
        tls: { keyFile: TLS_KEY, certFile: TLS_CERT },
        sasl: { fakeSaltSecret: `${options.name}-fake-salt-secret` },
      },
      ...(options.upload === undefined ? {} : { upload: options.upload }),
    },
    { logger: quietLogger(options.service, options.logs, options.logLevel) },
  );
  const ports = await app.start();
  return {
    app,
    dataDir,
    tcpPort: ports.tcpPort,
    componentPort: ports.componentPort,
    async createAccount(user, password) {
      await app.store.accounts.create(`${user}@${DOMAIN}`, await deriveCredentials(password));
    },
    async stop() {
      await app.close();
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

// ---- clients ----

interface IqCaller {
  request(el: Element, timeout?: number): Promise<Element>;
}

interface IqCallee {
  set(xmlns: string, name: string, handler: () => object): void;
}

/** One logged-in @xmpp/client user. */
export interface User {
  readonly jid: string;
  readonly bare: string;
  readonly xmpp: Client;
  readonly inbox: Inbox;
  send(stanza: Element): Promise<void>;
  /** An IQ round trip; rejects with the StanzaError of an error response. */
  iq(stanza: Element): Promise<Element>;
  stop(): Promise<void>;
}

export interface LoginOptions {
  readonly resource: string;
  readonly iqTimeoutMs: number;
  readonly domain?: string;
}

/** Logs in over STARTTLS (the test CA is trusted through NODE_EXTRA_CA_CERTS) and sends initial presence. */
export async function login(
  port: number,
  username: string,
  password: string,
  options: LoginOptions,
): Promise<User> {
  const { resource, iqTimeoutMs, domain = DOMAIN } = options;
  const xmpp = client({
    service: `xmpp://127.0.0.1:${port}`,
    domain,
    username,
    password,
    resource,
  });
  xmpp.reconnect.stop();
  const inbox = new Inbox();
  xmpp.on('stanza', (s: Element) => inbox.push(s));
  xmpp.on('error', () => undefined);
  // Roster pushes need a result (RFC 6121 §2.1.6).
  (xmpp as unknown as { iqCallee: IqCallee }).iqCallee.set('jabber:iq:roster', 'query', () => ({}));
  await xmpp.start();
  const caller = (xmpp as unknown as { iqCaller: IqCaller }).iqCaller;
  const iq = (stanza: Element): Promise<Element> => caller.request(stanza, iqTimeoutMs);
  // Messages to the bare JID reach only available resources (RFC 6121 §8.5.2.1.1); the ping's
  // answer comes after the server handled the presence sent before it.
  await xmpp.send(xml('presence'));
  await iq(xml('iq', { type: 'get', to: domain }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
  return {
    jid: xmpp.jid?.toString() ?? `${username}@${domain}/${resource}`,
    bare: `${username}@${domain}`,
    xmpp,
    inbox,
    send: (stanza) => xmpp.send(stanza),
    iq,
    stop: () => xmpp.stop().then(() => undefined),
  };
}

/** The defined condition of a stanza error (RFC 6120 §8.3.3), or undefined. */
export function errorCondition(stanza: Element): string | undefined {
  const error = stanza.getChild('error');
  return error?.children.find(
    (c): c is Element =>
      typeof c !== 'string' &&
      c.attrs['xmlns'] === 'urn:ietf:params:xml:ns:xmpp-stanzas' &&
      c.name !== 'text',
  )?.name;
}
