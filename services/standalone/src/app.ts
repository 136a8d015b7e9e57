import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createMemoryBus, type Bus } from '@switchboard/bus';
import { build as buildEdge, type Edge, type ListeningPorts } from '@switchboard/edge';
import type { Logger, Metrics } from '@switchboard/kit';
import { Streams, rememberEncodings } from '@switchboard/protocol';
import {
  build as buildMuc,
  busTransport as mucBusTransport,
  openSqliteMucStorage,
  toMucConfig,
  type MucApp,
  type MucStorage,
} from '@switchboard/muc';
import {
  build as buildRouter,
  createMemorySessionRegistry,
  toClientFeatureConfig,
  type Router,
} from '@switchboard/router';
import { build as buildS2s, type S2s, type S2sPorts } from '@switchboard/s2s';
import {
  build as buildSmsGateway,
  busTransport,
  createMemoryQueue,
  createProvider,
  openSqliteRegistrations,
  openSqliteRoomMemberships,
  openSqliteLedger,
  type SendLedger,
  toSmsGatewayConfig,
  type OutboundQueue,
  type Registrations,
  type RoomMemberships,
  type SmsGatewayApp,
} from '@switchboard/sms-gateway';
import {
  build as buildIrcGateway,
  busTransport as ircBusTransport,
  openSqliteMemberships,
  toIrcGatewayConfig,
  type IrcGatewayApp,
  type Memberships as IrcMemberships,
} from '@switchboard/irc-gateway';
import {
  build as buildUpload,
  busTransport as uploadBusTransport,
  createMemoryQuotaLedger,
  createStorage as createUploadStorage,
  toUploadConfig,
  type FileStorage,
  type QuotaLedger,
  type UploadApp,
} from '@switchboard/upload';
import { openEmbeddedStore, type Store } from '@switchboard/store';
import fastify, { type FastifyInstance } from 'fastify';
import { buildAdmin, type StandaloneAdmin } from './admin.js';
import {
  consoleSettings,
  standaloneConfigSchema,
  type StandaloneConfig,
  type StandaloneConfigInput,
} from './config.js';

export { standaloneConfigSchema, type StandaloneConfig, type StandaloneConfigInput } from './config.js';
export type { StandaloneAdmin } from './admin.js';

/** One process, one partition: the in-process bus keeps every stanza in order without coordination. */
const PARTITIONS = 1;
/** Acked entries are dropped from the in-process streams this often. */
const TRIM_INTERVAL_MS = 1000;

export interface StandaloneDeps {
  readonly logger: Logger;
  readonly metrics?: Metrics;
}

/** The in-process SMS gateway (config `sms`). */
export interface StandaloneSms {
  readonly domain: string;
  readonly app: SmsGatewayApp;
  /** Serves provider webhooks (Twilio); listening once start() resolved. */
  readonly http: FastifyInstance;
}

/** The in-process IRC gateway (config `irc`). */
export interface StandaloneIrc {
  readonly domain: string;
  readonly app: IrcGatewayApp;
  readonly memberships: IrcMemberships;
}

/** The in-process XEP-0045 service (config `muc`). */
export interface StandaloneMuc {
  readonly domain: string;
  readonly app: MucApp;
  readonly storage: MucStorage;
}

export interface Standalone {
  readonly edge: Edge;
  readonly router: Router;
  readonly store: Store;
  readonly bus: Bus;
  /** Null unless the config has an `sms` section. */
  readonly sms: StandaloneSms | null;
  /** Null unless the config has an `irc` section. */
  readonly irc: StandaloneIrc | null;
  /** Null when `muc.enabled` is false. */
  readonly muc: StandaloneMuc | null;
  /** Null when `upload.enabled` is false. */
  readonly upload: StandaloneUpload | null;
  /** The admin API's pieces (docs/admin-api.md): mount with `admin.register(fastify)`. */
  readonly admin: StandaloneAdmin;
  /** Null when federation is off (config `s2s.enabled`, see config.ts for the default). */
  readonly s2s: S2s | null;
  /** The s2s listeners' ports once start() resolved; null when federation is off. */
  readonly s2sPorts: () => S2sPorts | null;
  /** Starts the router, then opens the client listeners. */
  start(): Promise<ListeningPorts>;
  ready(): boolean;
  /** Stops accepting and lets clients go (see-other-host or a clean close). */
  drain(): Promise<void>;
  /** Stops the router, closes connections, bus and store. Idempotent. */
  close(): Promise<void>;
}

/** Edge and router in one process on the in-process bus and the embedded store (ARCHITECTURE.md, "Embedded mode"). */
export function build(input: StandaloneConfigInput, deps: StandaloneDeps): Standalone {
  const config = standaloneConfigSchema.parse(input);
  const bus = createMemoryBus({ trimOnAck: true });
  // The in-process bus hands published strings over as they are: decode them without parsing.
  rememberEncodings(true);
  const store = openEmbeddedStore({ path: join(config.dataDir, 'switchboard.db') });
  const federates = config.s2s.enabled ?? config.domains.every(isPublicDomainName);
  const sessions = createMemorySessionRegistry();
  const mucDomain = config.muc.enabled ? (config.muc.domain ?? `conference.${config.domains[0]!}`) : null;
  const uploadDomain = config.upload.enabled
    ? (config.upload.domain ?? `upload.${config.domains[0]!}`)
    : null;
  const router = buildRouter(
    {
      routerId: 'standalone',
      domains: config.domains,
      components: [
        ...config.components.map((c) => c.domain),
        ...(config.sms === undefined ? [] : [config.sms.domain]),
        ...(config.irc === undefined ? [] : [config.irc.domain]),
        ...(mucDomain === null ? [] : [mucDomain]),
        ...(uploadDomain === null ? [] : [uploadDomain]),
      ],
      partitions: PARTITIONS,
      ownedPartitions: [0],
      offlineCap: config.router.offlineCap,
      ...toClientFeatureConfig(config.router),
      ...(federates ? { s2sPartitions: PARTITIONS } : {}),
    },
    {
      bus,
      store,
      sessions,
      logger: deps.logger.child({ component: 'router' }),
    },
  );
  const edge = buildEdge(
    {
      ...config.edge,
      domains: config.domains,
      components: config.components,
      dataDir: config.dataDir,
      partitions: PARTITIONS,
      // No other edge can take a session over from this process: detached sessions end at drain.
      drain: { ...config.edge.drain, holdResumable: false },
      web: { ...config.edge.web, console: consoleSettings(config) },
    },
    {
      bus,
      store,
      logger: deps.logger.child({ component: 'edge' }),
      ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }),
    },
  );

  const sms = config.sms === undefined ? null : buildSms(config.sms, config.dataDir, bus, deps);
  const muc = mucDomain === null ? null : buildMucService(config, mucDomain, bus, deps);
  const irc = config.irc === undefined ? null : buildIrc(config.irc, config.dataDir, bus, deps);
  const upload = uploadDomain === null ? null : buildUploadService(config, uploadDomain, bus, deps);
  const s2s = federates ? buildFederation(config, bus, deps) : null;
  const admin = buildAdmin(config, { sessions, store, bus, edge, router, sms, partitions: PARTITIONS });
  let s2sPorts: S2sPorts | null = null;

  let trimmer: NodeJS.Timeout | undefined;
  let closing: Promise<void> | undefined;
  const trim = async (): Promise<void> => {
    await Promise.all([
      bus.trim(Streams.route(0)),
      bus.trim(Streams.deliver(edge.edgeId)),
      ...(sms === null ? [] : [bus.trim(Streams.service(sms.domain))]),
      ...(muc === null ? [] : [bus.trim(Streams.service(muc.domain))]),
      ...(irc === null ? [] : [bus.trim(Streams.service(irc.domain))]),
      ...(upload === null ? [] : [bus.trim(Streams.service(upload.domain))]),
      ...(s2s === null ? [] : [bus.trim(Streams.s2s(0))]),
    ]);
  };

  return {
    edge,
    router,
    store,
    bus,
    sms,
    irc,
    muc,
    upload,
    admin,
    s2s,
    s2sPorts: () => s2sPorts,
    async start() {
      await router.start();
      if (sms !== null) {
        // Webhook routes go on before the server listens.
        await sms.app.start();
        await sms.http.listen({ port: sms.port, host: sms.host });
      }
      await muc?.app.start();
      await irc?.app.start();
      const ports = await edge.listen();
      // After the edge: it writes the development certificate s2s falls back to.
      if (s2s !== null) s2sPorts = await s2s.start();
      // After the edge too: the file server presents the edge's (possibly just generated) certificate.
      if (upload !== null) await upload.app.start(upload.listen);
      trimmer = setInterval(() => {
        trim().catch((err: unknown) => deps.logger.warn({ err }, 'trimming the in-process streams failed'));
      }, TRIM_INTERVAL_MS);
      trimmer.unref();
      return ports;
    },
    ready: () => edge.ready(),
    drain: () => edge.drain(),
    close() {
      closing ??= (async () => {
        if (trimmer !== undefined) clearInterval(trimmer);
        await edge.drain();
        // The gateway stops taking stanzas and finishes its sends while the router still routes its replies.
        await sms?.app.stop();
        // Quits IRC but keeps the channels users are in, to rejoin them on the next start.
        await irc?.app.stop();
        await muc?.app.stop();
        await upload?.app.stop();
        await s2s?.close();
        await router.stop();
        await edge.close();
        await sms?.http.close();
        await sms?.registrations.close();
        await sms?.rooms.close();
        await sms?.ledger.close();
        await muc?.storage.close();
        await irc?.memberships.close();
        await upload?.storage.close();
        await upload?.ledger.close();
        await bus.close();
        await store.close();
      })();
      return closing;
    },
  };
}

type SmsSection = NonNullable<StandaloneConfig['sms']>;

/** The SMS gateway as its own process runs it without Redis: in-process queue, SQLite registrations. */
function buildSms(
  section: SmsSection,
  dataDir: string,
  bus: Bus,
  deps: StandaloneDeps,
): StandaloneSms & {
  readonly port: number;
  readonly host: string;
  readonly registrations: Registrations;
  readonly rooms: RoomMemberships;
  readonly queue: OutboundQueue;
  readonly ledger: SendLedger;
} {
  const logger = deps.logger.child({ component: 'sms-gateway' });
  const config = toSmsGatewayConfig(section);
  const registrations = openSqliteRegistrations({ path: join(dataDir, 'sms-gateway.db') });
  // The rooms SMS users are in, rejoined after a restart (same file, own table).
  const rooms = openSqliteRoomMemberships({ path: join(dataDir, 'sms-gateway.db') });
  // Parts the provider accepted, so a retried job after a restart sends only what is missing.
  const ledger = openSqliteLedger({ path: join(dataDir, 'sms-gateway.db') });
  const http = fastify();
  const queue = createMemoryQueue({
    attempts: section.queue.attempts,
    backoffMs: section.queue.backoffMs,
    concurrency: section.queue.concurrency,
    ...(section.queue.rateLimit === undefined ? {} : { rateLimit: section.queue.rateLimit }),
  });
  const app = buildSmsGateway(config, {
    transport: busTransport({
      bus,
      domain: config.domain,
      partitions: PARTITIONS,
      consumer: 'standalone',
      logger,
    }),
    provider: createProvider(section.provider, config.maxSegments, logger),
    registrations,
    rooms,
    queue,
    ledger,
    http,
    logger,
    ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }),
  });
  return {
    domain: config.domain,
    app,
    http,
    port: section.http.port,
    host: section.http.host,
    registrations,
    rooms,
    queue,
    ledger,
  };
}

/** services/irc-gateway on the in-process bus, memberships in SQLite under dataDir. */
function buildIrc(
  section: NonNullable<StandaloneConfig['irc']>,
  dataDir: string,
  bus: Bus,
  deps: StandaloneDeps,
): StandaloneIrc {
  const logger = deps.logger.child({ component: 'irc-gateway' });
  const config = toIrcGatewayConfig(section);
  const memberships = openSqliteMemberships({ path: join(dataDir, 'irc-gateway.db') });
  const app = buildIrcGateway(config, {
    transport: ircBusTransport({
      bus,
      domain: config.domain,
      partitions: PARTITIONS,
      consumer: 'standalone',
      logger,
    }),
    memberships,
    logger,
  });
  return { domain: config.domain, app, memberships };
}

/** services/muc on the in-process bus, rooms and archive in SQLite under dataDir. */
function buildMucService(
  config: StandaloneConfig,
  domain: string,
  bus: Bus,
  deps: StandaloneDeps,
): StandaloneMuc {
  const logger = deps.logger.child({ component: 'muc' });
  const storage = openSqliteMucStorage({ path: join(config.dataDir, 'muc.db') });
  const app = buildMuc(toMucConfig({ ...config.muc, domain }), {
    transport: mucBusTransport({ bus, domain, partitions: PARTITIONS, consumer: 'standalone', logger }),
    storage,
    logger,
    ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }),
  });
  return { domain, app, storage };
}

/** The in-process XEP-0363 service (config `upload`). */
export interface StandaloneUpload {
  readonly domain: string;
  readonly app: UploadApp;
  readonly storage: FileStorage;
  readonly ledger: QuotaLedger;
  readonly listen: { readonly port: number; readonly host: string };
}

/** services/upload on the in-process bus: files under dataDir (or S3), the edge's certificate for HTTPS. */
function buildUploadService(
  config: StandaloneConfig,
  domain: string,
  bus: Bus,
  deps: StandaloneDeps,
): StandaloneUpload {
  const logger = deps.logger.child({ component: 'upload' });
  const section = config.upload;
  const storage = createUploadStorage(section.storage, config.dataDir);
  const ledger = createMemoryQuotaLedger({
    bytes: section.quota.bytes,
    windowMs: section.quota.windowHours * 3600 * 1000,
  });
  const edgeTls = config.edge.tls;
  // The same files the edge presents: configured ones, or the development certificate it keeps in dataDir.
  const keyFile = edgeTls.keyFile ?? join(config.dataDir, 'dev-tls.key');
  const certFile = edgeTls.certFile ?? join(config.dataDir, 'dev-tls.pem');
  const app = buildUpload(
    toUploadConfig(section, {
      domain,
      domains: config.domains,
      secret: section.secret ?? uploadSecret(config.dataDir),
    }),
    {
      transport: uploadBusTransport({ bus, domain, partitions: PARTITIONS, consumer: 'standalone', logger }),
      storage,
      ledger,
      logger,
      ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }),
      ...(section.http.tls
        ? {
            tls: async () => {
              const [key, cert] = await Promise.all([readFile(keyFile, 'utf8'), readFile(certFile, 'utf8')]);
              return { key, cert };
            },
          }
        : {}),
    },
  );
  const listen = {
    port: section.http.port ?? (config.edge.ports.starttls === 0 ? 0 : 5281),
    host: section.http.host ?? config.edge.host,
  };
  return { domain, app, storage, ledger, listen };
}

/** The PUT-token key when none is configured: made once, kept in dataDir so slots survive a restart. */
function uploadSecret(dataDir: string): string {
  const path = join(dataDir, 'upload-secret');
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    mkdirSync(dataDir, { recursive: true });
    const secret = randomBytes(32).toString('base64url');
    writeFileSync(path, secret, { mode: 0o600 });
    return secret;
  }
}

/** Real DNS names federate by default; `localhost`, its subdomains and dotless names do not. */
function isPublicDomainName(domain: string): boolean {
  return domain.includes('.') && domain !== 'localhost' && !domain.endsWith('.localhost');
}

/** services/s2s on the in-process bus, presenting the edge's certificate unless it has its own. */
function buildFederation(config: StandaloneConfig, bus: Bus, deps: StandaloneDeps): S2s {
  const { enabled: _enabled, ...settings } = config.s2s;
  const edgeTls = config.edge.tls;
  return buildS2s(
    {
      ...settings,
      tls: {
        ...settings.tls,
        ...(settings.tls.keyFile === undefined && edgeTls.keyFile !== undefined
          ? { keyFile: edgeTls.keyFile }
          : {}),
        ...(settings.tls.certFile === undefined && edgeTls.certFile !== undefined
          ? { certFile: edgeTls.certFile }
          : {}),
      },
      partitions: PARTITIONS,
      nodeId: 'standalone',
      domains: config.domains,
      components: [
        ...config.components.map((c) => c.domain),
        ...(config.sms === undefined ? [] : [config.sms.domain]),
        ...(config.muc.enabled ? [config.muc.domain ?? `conference.${config.domains[0]!}`] : []),
      ],
      routePartitions: PARTITIONS,
      dataDir: config.dataDir,
    },
    {
      bus,
      logger: deps.logger.child({ component: 's2s' }),
      ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }),
    },
  );
}
