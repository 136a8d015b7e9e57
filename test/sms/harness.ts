// The SMS gateway end to end: real XMPP clients, a real XMPP server (embedded Switchboard or
// Prosody), the gateway's real transports, queue and registrations, and a real provider peer.
import { xml } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import type { AddressInfo } from 'node:net';
import fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '@switchboard/kit';
import { build as buildGateway, type SmsGatewayApp } from '../../services/sms-gateway/src/app.js';
import type { SmsProvider } from '../../services/sms-gateway/src/providers/provider.js';
import { createMemoryQueue } from '../../services/sms-gateway/src/queue/memory.js';
import type { OutboundQueue } from '../../services/sms-gateway/src/queue/queue.js';
import type { Registrations } from '../../services/sms-gateway/src/registrations/registrations.js';
import type { RoomsConfig } from '../../services/sms-gateway/src/config.js';
import { openSqliteRoomMemberships } from '../../services/sms-gateway/src/rooms/sqlite.js';
import { openSqliteRegistrations } from '../../services/sms-gateway/src/registrations/sqlite.js';
import type { Transport } from '../../services/sms-gateway/src/transports/index.js';
import type { TestSmsc } from '../../services/sms-gateway/src/providers/test/smsc.js';
import { FakeTwilio } from '../../services/sms-gateway/src/providers/test/fake-twilio.js';
import { createTwilioProvider } from '../../services/sms-gateway/src/providers/twilio.js';
import { componentTransport } from '../../services/sms-gateway/src/transports/index.js';
import {
  login as supportLogin,
  quietLogger,
  startStandalone,
  type TestStandalone,
  type User,
} from '../support/standalone.js';

export { Inbox } from '../e2e/deployments.js';
export type { User };
export { errorCondition, quietLogger } from '../support/standalone.js';

export const DOMAIN = 'localhost';
export const SMS_DOMAIN = 'sms.localhost';
export const COMPONENT_SECRET = 'sms-e2e-component-secret';
export { TLS_CERT, TLS_KEY } from '../support/paths.js';

export const NS_REGISTER = 'jabber:iq:register';
export const NS_RECEIPTS = 'urn:xmpp:receipts';

// ---- Switchboard ----

/** A Switchboard whose edge's XEP-0114 listener admits `sms.localhost` with COMPONENT_SECRET. */
export type Switchboard = TestStandalone & { readonly componentPort: number };

/**
 * Embedded Switchboard (edge and router on the in-process bus) on ephemeral ports, with
 * `sms.localhost` as a component domain: the router sends its stanzas to `svc:{sms.localhost}`,
 * which the gateway reads either from the bus or through the edge's XEP-0114 listener.
 */
export async function startSwitchboard(logs: string[]): Promise<Switchboard> {
  const switchboard = await startStandalone({
    name: 'sms-e2e',
    service: 'sms-e2e-switchboard',
    logs,
    components: [{ domain: SMS_DOMAIN, secret: COMPONENT_SECRET }],
  });
  const { componentPort } = switchboard;
  if (componentPort === null) throw new Error('the edge opened no component listener');
  return { ...switchboard, componentPort };
}

// ---- the gateway ----

export interface Gateway {
  readonly app: SmsGatewayApp;
  readonly queue: OutboundQueue;
  readonly registrations: Registrations;
  /** Every retry the queue scheduled, as `jobId` by attempt. */
  readonly retries: { readonly jobId: string; readonly attempt: number }[];
  /**
   * Resolves once the gateway stored what it needs to match a delivery report for
   * `providerMessageId` (a report arriving earlier is dropped as unknown).
   */
  recorded(providerMessageId: string): Promise<void>;
  /** Resolves when `condition` holds, re-checked each time the gateway stored a sent message's ids. */
  untilRecorded(condition: () => boolean): Promise<void>;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  readonly transport: Transport;
  readonly provider: SmsProvider;
  readonly http: FastifyInstance;
  readonly logger: Logger;
  readonly maxSegments?: number;
  /** SQLite file of the registrations and room memberships (kept across a restart); in memory without it. */
  readonly dataFile?: string;
  readonly rooms?: RoomsConfig;
  /** Number verification by texted code; on by default, as in production (complete it with registerVerified). */
  readonly verifyNumbers?: boolean;
}

/** The gateway as main.ts wires it in embedded mode: in-process queue, SQLite registrations. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const sqlite = openSqliteRegistrations({ path: options.dataFile ?? ':memory:' });
  const memberships = openSqliteRoomMemberships({ path: options.dataFile ?? ':memory:' });
  const stored = new Set<string>();
  const watchers = new Set<() => void>();
  const untilRecorded = (condition: () => boolean): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (!condition()) return;
        watchers.delete(check);
        resolve();
      };
      watchers.add(check);
      check();
    });
  const registrations: Registrations = {
    get: (jid) => sqlite.get(jid),
    list: () => sqlite.list(),
    putVerification: (pending) => sqlite.putVerification(pending),
    getVerification: (jid) => sqlite.getVerification(jid),
    failVerification: (jid) => sqlite.failVerification(jid),
    removeVerification: (jid) => sqlite.removeVerification(jid),
    countCodeSend: (jid, windowMs) => sqlite.countCodeSend(jid, windowMs),
    recordHelp: (contact, own, at) => sqlite.recordHelp(contact, own, at),
    lastHelp: (contact, own) => sqlite.lastHelp(contact, own),
    byNumber: (number) => sqlite.byNumber(number),
    put: (registration) => sqlite.put(registration),
    remove: (jid) => sqlite.remove(jid),
    setOptOut: (contact, own, optedOut) => sqlite.setOptOut(contact, own, optedOut),
    isOptedOut: (contact, own) => sqlite.isOptedOut(contact, own),
    listOptOuts: () => sqlite.listOptOuts(),
    async rememberSent(record, ttlMs) {
      await sqlite.rememberSent(record, ttlMs);
      for (const id of record.providerMessageIds) stored.add(id);
      for (const check of [...watchers]) check();
    },
    takeSent: (providerMessageId) => sqlite.takeSent(providerMessageId),
    close: () => sqlite.close(),
  };
  const retries: { jobId: string; attempt: number }[] = [];
  const memoryQueue = createMemoryQueue({ attempts: 3, backoffMs: 20 });
  // The app passes its own queue events; this wrapper records the retries too, for assertions.
  const queue: OutboundQueue = {
    ...memoryQueue,
    start: (processor, events) =>
      memoryQueue.start(processor, {
        ...events,
        retrying: (job, error, attempt) => {
          retries.push({ jobId: job.id, attempt });
          events?.retrying?.(job, error, attempt);
        },
      }),
  };
  const app = buildGateway(
    {
      domain: SMS_DOMAIN,
      maxSegments: options.maxSegments ?? 3,
      accountFields: {},
      reportTtlMs: 60_000,
      ...(options.verifyNumbers === undefined ? {} : { verifyNumbers: options.verifyNumbers }),
      ...(options.rooms === undefined ? {} : { rooms: options.rooms }),
    },
    {
      transport: options.transport,
      provider: options.provider,
      registrations,
      rooms: memberships,
      queue,
      http: options.http,
      logger: options.logger,
    },
  );
  await app.start();
  return {
    app,
    queue,
    registrations,
    retries,
    recorded: (providerMessageId) => untilRecorded(() => stored.has(providerMessageId)),
    untilRecorded,
    async stop() {
      await app.stop();
      await registrations.close();
      await memberships.close();
    },
  };
}

// ---- clients ----

/** Logs in over STARTTLS (the test CA is trusted through NODE_EXTRA_CA_CERTS) and sends initial presence. */
export function login(port: number, username: string, password: string): Promise<User> {
  return supportLogin(port, username, password, { resource: 'phone-bridge', iqTimeoutMs: 5000 });
}

/** XEP-0077 §3.1 registration of a phone number with the gateway. */
export function register(user: Pick<User, 'iq'>, phone: string, domain = SMS_DOMAIN): Promise<Element> {
  return user.iq(
    xml('iq', { type: 'set', to: domain }, xml('query', { xmlns: NS_REGISTER }, xml('phone', {}, phone))),
  );
}

/** Where a test reads the verification code the gateway texted: what the provider peer received. */
export interface CodeSource {
  /** Messages the peer received so far. */
  count(): number;
  /** The code in the first message to `number` after the first `seen` ones, once it arrived. */
  codeAfter(seen: number, number: string): Promise<string>;
}

const CODE = /^(\d{6}) is your /;

/** Codes from the test SMSC's submit_sm. */
export function smscCodes(smsc: TestSmsc): CodeSource {
  const find = (seen: number, number: string): string | undefined =>
    smsc.submits
      .slice(seen)
      .filter((s) => s.pdu['destination_addr'] === number.slice(1))
      .map((s) => {
        const sm = s.pdu['short_message'] as { message: string | Buffer };
        return typeof sm.message === 'string' ? sm.message : sm.message.toString('latin1');
      })
      .map((text) => CODE.exec(text)?.[1])
      .find((code) => code !== undefined);
  return {
    count: () => smsc.submits.length,
    async codeAfter(seen, number) {
      await smsc.until(() => find(seen, number) !== undefined);
      return find(seen, number)!;
    },
  };
}

/** Codes from the fake Twilio's Messages requests. */
export function twilioCodes(twilio: FakeTwilio): CodeSource {
  const find = (seen: number, number: string): string | undefined =>
    twilio.requests
      .slice(seen)
      .filter((r) => r.params.get('To') === number)
      .map((r) => CODE.exec(r.params.get('Body') ?? '')?.[1])
      .find((code) => code !== undefined);
  return {
    count: () => twilio.requests.length,
    async codeAfter(seen, number) {
      await twilio.until(() => find(seen, number) !== undefined);
      return find(seen, number)!;
    },
  };
}

/**
 * XEP-0077 registration with number verification, as a legacy-field client does it: the number
 * alone (the gateway texts a code and answers not-acceptable), then the number with the code in
 * `<text/>`. Resolves with the final result.
 */
export async function registerVerified(
  user: Pick<User, 'iq'>,
  phone: string,
  codes: CodeSource,
  domain = SMS_DOMAIN,
): Promise<Element> {
  const seen = codes.count();
  const answer: unknown = await register(user, phone, domain).then(
    () => {
      throw new Error('registration succeeded without verification');
    },
    (error: unknown) => error,
  );
  if ((answer as { condition?: string }).condition !== 'not-acceptable') throw answer;
  const code = await codes.codeAfter(seen, phone);
  return user.iq(
    xml(
      'iq',
      { type: 'set', to: domain },
      xml('query', { xmlns: NS_REGISTER }, xml('phone', {}, phone), xml('text', {}, code)),
    ),
  );
}

/** A chat message to a phone number's contact JID. */
export function chat(to: string, body: string, id: string, extra: Element[] = []): Element {
  return xml('message', { to, type: 'chat', id }, xml('body', {}, body), ...extra);
}

export const isChatFrom =
  (from: string) =>
  (s: Element): boolean =>
    s.is('message') && s.attrs['type'] === 'chat' && s.attrs['from'] === from;

export const isErrorFor =
  (id: string) =>
  (s: Element): boolean =>
    s.is('message') && s.attrs['type'] === 'error' && s.attrs['id'] === id;

export interface TwilioGateway {
  readonly twilio: FakeTwilio;
  readonly gateway: Gateway;
  stop(): Promise<void>;
}

/**
 * The local fake of a Twilio account (`account`, `token`) and the gateway on it, attached as a
 * XEP-0114 component to `switchboard`, with its webhooks served on a free local port.
 */
export async function startTwilioGateway(
  switchboard: Switchboard,
  logs: string[],
  options: {
    readonly name: string;
    readonly account: string;
    readonly token: string;
    readonly publicUrl: string;
    readonly timeoutMs: number;
  },
): Promise<TwilioGateway> {
  const twilio = await FakeTwilio.start({ [options.account]: options.token }, options.publicUrl);
  const logger = quietLogger(options.name, logs);
  const transport = componentTransport({
    service: `xmpp://127.0.0.1:${switchboard.componentPort}`,
    domain: SMS_DOMAIN,
    secret: COMPONENT_SECRET,
    logger,
  });
  const http = fastify();
  const gateway = await startGateway({
    transport,
    provider: createTwilioProvider({
      baseUrl: twilio.baseUrl,
      accountSid: options.account,
      authToken: options.token,
      publicUrl: options.publicUrl,
      webhookPath: '/twilio/sms',
      statusPath: '/twilio/status',
      timeoutMs: options.timeoutMs,
      maxSegments: 3,
    }),
    http,
    logger,
  });
  await transport.online();
  await http.listen({ port: 0, host: '127.0.0.1' });
  twilio.localUrl = `http://127.0.0.1:${(http.server.address() as AddressInfo).port}`;
  return {
    twilio,
    gateway,
    async stop() {
      await gateway.stop();
      await http.close();
      await twilio.close();
    },
  };
}
