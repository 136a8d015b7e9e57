import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger, Metrics } from '@switchboard/kit';
import type { StorageSettings, UploadConfig } from './config.js';
import { buildFileServer } from './http.js';
import type { QuotaLedger } from './quota/ledger.js';
import { UploadService } from './service.js';
import { createLocalStorage } from './storage/local.js';
import { createS3Storage } from './storage/s3.js';
import type { FileStorage } from './storage/storage.js';
import { createSweeper, type Sweeper } from './sweeper.js';
import type { Transport } from './transport.js';

export {
  storageSettingsSchema,
  toUploadConfig,
  uploadConfigSchema,
  uploadSettingsSchema,
  type StorageSettings,
  type UploadConfig,
  type UploadFileConfig,
  type UploadSettings,
} from './config.js';
export { contentDisposition, normalizeContentType, sanitizeFilename } from './filename.js';
export { buildFileServer, parseRange, type FileServerOptions } from './http.js';
export * from './quota/index.js';
export { NS_UPLOAD, UPLOAD_PATH, UploadService, type Slot, type SlotRefusal } from './service.js';
export * from './storage/index.js';
export { createSweeper, type Sweeper, type SweeperOptions } from './sweeper.js';
export {
  signSlotToken,
  verifySlotToken,
  type SlotClaims,
  type TokenCheck,
  type TokenProblem,
} from './token.js';
export { busTransport, type BusTransportOptions, type Transport } from './transport.js';

export interface TlsMaterial {
  readonly key: string;
  readonly cert: string;
}

export interface UploadDeps {
  readonly transport: Transport;
  readonly storage: FileStorage;
  readonly ledger: QuotaLedger;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /**
   * The HTTPS key and certificate, read when the file server starts (the standalone's
   * development certificate exists only once its edge listened). Absent: plain HTTP.
   */
  readonly tls?: () => Promise<TlsMaterial>;
}

export interface ListenOptions {
  /** 0 picks a free port. */
  readonly port: number;
  readonly host: string;
}

export interface UploadApp {
  readonly service: UploadService;
  readonly sweeper: Sweeper;
  /** The file server; exists once start() resolved. */
  readonly http: () => FastifyInstance;
  /** Where clients reach the file server (no trailing slash); known once start() resolved. */
  readonly baseUrl: () => string;
  /** Opens the file server, starts the retention sweep, then takes stanzas. */
  start(listen: ListenOptions): Promise<{ port: number; baseUrl: string }>;
  /** Stops taking stanzas, closes the file server (running uploads finish), stops the sweep. Idempotent. */
  stop(): Promise<void>;
}

/** Wires XEP-0363's XMPP and HTTP sides to a transport, storage and quota ledger; nothing listens until start(). */
export function build(config: UploadConfig, deps: UploadDeps): UploadApp {
  const { logger } = deps;
  let http: FastifyInstance | undefined;
  let baseUrl: string | undefined;
  const service = new UploadService({
    config,
    ledger: deps.ledger,
    send: (el) => deps.transport.send(el),
    baseUrl: () => {
      if (baseUrl === undefined) throw new Error('the upload file server is not listening yet');
      return baseUrl;
    },
    logger,
    ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }),
  });
  const sweeper = createSweeper({
    storage: deps.storage,
    retentionDays: config.retentionDays,
    intervalSeconds: config.sweepIntervalSeconds,
    logger,
    ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }),
  });
  let stopping: Promise<void> | undefined;

  return {
    service,
    sweeper,
    http: () => {
      if (http === undefined) throw new Error('the upload file server is not started');
      return http;
    },
    baseUrl: () => {
      if (baseUrl === undefined) throw new Error('the upload file server is not started');
      return baseUrl;
    },
    async start(listen) {
      const tls = deps.tls === undefined ? undefined : await deps.tls();
      http = buildFileServer({
        storage: deps.storage,
        secret: config.secret,
        logger,
        ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }),
        ...(tls === undefined ? {} : { tls }),
      });
      await http.listen({ port: listen.port, host: listen.host });
      const { port } = http.server.address() as AddressInfo;
      baseUrl = (
        config.publicUrl ?? `${tls === undefined ? 'http' : 'https'}://${config.domain}:${port}`
      ).replace(/\/+$/, '');
      sweeper.start();
      await deps.transport.start((el) => service.handle(el));
      logger.info({ domain: config.domain, port, baseUrl, tls: tls !== undefined }, 'upload service started');
      return { port, baseUrl };
    },
    stop() {
      stopping ??= (async () => {
        await deps.transport.stop();
        await http?.close();
        await sweeper.stop();
      })();
      return stopping;
    },
  };
}

/** The storage driver the config names; local files default to `<dataDir>/uploads`. */
export function createStorage(settings: StorageSettings, dataDir: string): FileStorage {
  switch (settings.kind) {
    case 'local':
      return createLocalStorage({ directory: settings.directory ?? join(dataDir, 'uploads') });
    case 's3':
      return createS3Storage({
        bucket: settings.bucket,
        region: settings.region,
        accessKeyId: settings.accessKeyId,
        secretAccessKey: settings.secretAccessKey,
        forcePathStyle: settings.forcePathStyle,
        prefix: settings.prefix,
        ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
      });
  }
}
