import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, isIP, type AddressInfo, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import {
  TLSSocket,
  createSecureContext,
  createServer as createTlsServer,
  type Server as TlsServer,
} from 'node:tls';
import websocket from '@fastify/websocket';
import { fastify, type FastifyInstance } from 'fastify';
import type { Bus, Consumer } from '@switchboard/bus';
import { createMetrics, type Logger, type Metrics } from '@switchboard/kit';
import { Groups, Streams, decodeDelivery, type Delivery } from '@switchboard/protocol';
import type { Store } from '@switchboard/store';
import type { XmlLimits } from '@switchboard/xml';
import { parseJid } from '@switchboard/jid';
import { ComponentListener } from './component/index.js';
import { edgeConfigSchema, type EdgeConfig, type EdgeConfigInput } from './config.js';
import { ConnectionCounter, SlidingWindowLimit } from './limits.js';
import { createEdgeMetrics, type EdgeMetrics } from './metrics.js';
import { BatchPublisher } from './publisher.js';
import { LoginThrottle } from './sasl/index.js';
import { createMemoryResumptionStore, type ResumptionStore } from './sm/store.js';
import { createMemoryFastTokenStore, type FastTokenStore } from './sasl/fast.js';
import { ClientStream, type EdgeContext } from './stream/client-stream.js';
import { SocketTransport } from './stream/socket-transport.js';
import type { Transport } from './stream/transport.js';
import { WebSocketTransport } from './stream/websocket-transport.js';
import { loadTlsMaterial } from './tls/certificates.js';
import { registerWeb } from './web/index.js';

export { edgeConfigSchema, type EdgeConfig, type EdgeConfigInput } from './config.js';

export interface EdgeDeps {
  readonly bus: Bus;
  readonly store: Store;
  readonly logger: Logger;
  /** The process registry; a private one when absent. */
  readonly metrics?: Metrics;
  /** PEM key and certificate; loaded from config (or generated under dataDir) when absent. */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** Login throttle shared by the process; one per edge when absent. */
  readonly throttle?: LoginThrottle;
  /**
   * XEP-0198 resumption state; in this process when absent (one edge). The cluster passes the
   * Redis store so a session can resume on any edge.
   */
  readonly resumption?: ResumptionStore;
  /** XEP-0484 FAST tokens; in this process when absent. The cluster passes the Redis store. */
  readonly fastTokens?: FastTokenStore;
}

export interface ListeningPorts {
  readonly tcpPort: number;
  readonly tlsPort: number;
  readonly httpPort: number;
  /** XEP-0114 listener; null when no component is configured. */
  readonly componentPort: number | null;
}

export interface Edge {
  /** Consumer name on `deliver:{edgeId}` and the edgeId in every envelope. */
  readonly edgeId: string;
  /** Opens the three listeners and starts reading deliveries. */
  listen(): Promise<ListeningPorts>;
  /** Listening and not draining (for /readyz). */
  ready(): boolean;
  /** Streams open now. */
  connectionCount(): number;
  /**
   * Stops accepting, sends every client see-other-host (when configured) or system-shutdown,
   * waits for them to close (at most limits.drainTimeoutSeconds), publishes their session-end.
   */
  drain(): Promise<void>;
  /** Cuts every connection, closes the listeners and stops reading deliveries. Idempotent. */
  close(): Promise<void>;
}

const WS_SUBPROTOCOL = 'xmpp';
const WS_ALT_CONNECTION = 'urn:xmpp:alt-connections:websocket';

export function build(input: EdgeConfigInput, deps: EdgeDeps): Edge {
  const config: EdgeConfig = edgeConfigSchema.parse(input);
  const edgeId = config.edgeId ?? randomUUID();
  const logger = deps.logger.child({ edgeId });
  const metrics: EdgeMetrics = createEdgeMetrics(
    deps.metrics ?? createMetrics({ service: 'edge', defaultMetrics: false }),
  );
  const domains = new Set(config.domains.map((d) => parseJid(d).domain));
  const streams = new Map<string, ClientStream>();
  /** Sessions whose connection is gone, waiting for a resume (XEP-0198 §5); they still get deliveries. */
  const detached = new Map<string, ClientStream>();
  /** Sessions resumed on another edge: late deliveries follow them there. */
  const movedTo = new Map<string, string>();
  const counted = new WeakSet<ClientStream>();
  const released = new WeakSet<ClientStream>();
  const resumption = deps.resumption ?? createMemoryResumptionStore();
  const perIp = new ConnectionCounter(config.limits.maxConnectionsPerIp);
  const publisher = new BatchPublisher(deps.bus, logger, (_error, dropped) =>
    metrics.publishFailures.inc(dropped),
  );
  const xmlLimits: XmlLimits = {
    maxStanzaBytes: config.limits.maxStanzaBytes,
    maxDepth: config.limits.maxDepth,
    maxAttributes: config.limits.maxAttributes,
    maxNameLength: config.limits.maxNameLength,
    maxAttributeValueLength: config.limits.maxAttributeValueLength,
  };

  let context: EdgeContext | null = null;
  let tcpServer: NetServer | null = null;
  let tlsServer: TlsServer | null = null;
  let http: FastifyInstance | null = null;
  let components: ComponentListener | null = null;
  let consumer: Consumer | null = null;
  let ticker: NodeJS.Timeout | null = null;
  let listening = false;
  let draining: Promise<void> | null = null;
  let closing: Promise<void> | null = null;

  const accept = (transport: Transport): void => {
    if (context === null || draining !== null || closing !== null) {
      transport.destroy();
      return;
    }
    metrics.connections.inc({ transport: transport.kind });
    metrics.openConnections.inc({ transport: transport.kind });
    const stream = new ClientStream(context, transport);
    streams.set(stream.sessionId, stream);
    if (perIp.acquire(transport.remoteAddress)) counted.add(stream);
    else stream.streamError('policy-violation', 'too many connections from this address');
  };

  /** The connection of `stream` is gone: it no longer counts against the limits. */
  const releaseConnection = (stream: ClientStream): void => {
    if (released.has(stream)) return;
    released.add(stream);
    metrics.openConnections.dec({ transport: stream.transport.kind });
    if (counted.has(stream)) perIp.release(stream.transport.remoteAddress);
  };

  const streamClosed = (stream: ClientStream): void => {
    if (streams.get(stream.sessionId) === stream) streams.delete(stream.sessionId);
    if (detached.get(stream.sessionId) === stream) detached.delete(stream.sessionId);
    releaseConnection(stream);
  };

  const streamDetached = (stream: ClientStream): void => {
    if (streams.get(stream.sessionId) === stream) streams.delete(stream.sessionId);
    detached.set(stream.sessionId, stream);
    releaseConnection(stream);
  };

  const adoptSession = (stream: ClientStream, previousKey: string): void => {
    if (streams.get(previousKey) === stream) streams.delete(previousKey);
    const sessionId = stream.sessionId;
    const previous = streams.get(sessionId) ?? detached.get(sessionId);
    detached.delete(sessionId);
    streams.set(sessionId, stream);
    movedTo.delete(sessionId);
    if (previous !== undefined && previous !== stream) previous.retire();
  };

  const rememberMove = (sessionId: string, edgeId: string): void => {
    movedTo.set(sessionId, edgeId);
    // Only the deliveries in flight at the move need it.
    if (movedTo.size > 10_000) {
      const oldest = movedTo.keys().next();
      if (oldest.done !== true) movedTo.delete(oldest.value);
    }
  };

  const corked = new Set<ClientStream>();
  const handleDeliveries = (entries: readonly { payload: string }[]): Promise<void> => {
    let stored: Promise<void>[] | undefined;
    try {
      deliverAll(entries);
    } finally {
      for (const stream of corked) {
        stream.uncork();
        // XEP-0198 sessions: acked once the resumption store holds what was written (or queued).
        const write = stream.stored();
        if (write !== undefined) (stored ??= []).push(write);
      }
      corked.clear();
    }
    return stored === undefined ? Promise.resolve() : Promise.all(stored).then(() => undefined);
  };

  const deliverAll = (entries: readonly { payload: string }[]): void => {
    for (const entry of entries) {
      let delivery: Delivery;
      try {
        delivery = decodeDelivery(entry.payload);
      } catch (error) {
        logger.warn({ err: error }, 'undecodable delivery dropped');
        continue;
      }
      const stream = streams.get(delivery.sessionId) ?? detached.get(delivery.sessionId);
      if (stream === undefined) {
        const movedEdge = movedTo.get(delivery.sessionId);
        if (movedEdge !== undefined && delivery.kind === 'stanza') {
          publisher.enqueue(Streams.deliver(movedEdge), entry.payload);
          continue;
        }
        logger.debug(
          { sessionId: delivery.sessionId, envelopeId: delivery.id },
          'delivery for a closed session',
        );
        continue;
      }
      if (delivery.kind === 'close') {
        stream.closeByOrder(delivery.id, delivery.condition, delivery.text);
        continue;
      }
      if (delivery.kind === 'moved') {
        // XEP-0198 §5: resumed on another edge; this copy goes without ending the session.
        if (delivery.edgeId !== edgeId) {
          rememberMove(delivery.sessionId, delivery.edgeId);
          stream.retire();
        }
        continue;
      }
      if (!corked.has(stream)) {
        stream.cork();
        corked.add(stream);
      }
      if (stream.deliver(delivery.id, delivery.xml, delivery.ts)) {
        metrics.deliveryLag.observe(Math.max(0, Date.now() - delivery.ts) / 1000);
      }
    }
  };

  const tick = (): void => {
    const now = Date.now();
    const { idleTimeoutSeconds, authTimeoutSeconds, keepaliveSeconds } = config.limits;
    for (const stream of streams.values()) {
      if (stream.isClosing) continue;
      if (now - stream.lastInput > idleTimeoutSeconds * 1000) {
        // RFC 6120 §4.9.3.4; a resumable session survives it (the client may just have lost its network).
        stream.shutdown('connection-timeout', 'no input');
      } else if (!stream.authenticated && now - stream.connectedAt > authTimeoutSeconds * 1000) {
        stream.streamError('connection-timeout', 'not authenticated in time');
      } else if (now - stream.lastOutput > keepaliveSeconds * 1000) {
        stream.sendKeepalive();
      }
      stream.tick(now);
    }
  };

  const buildHttp = (key: string, cert: string): FastifyInstance => {
    const serveTls = config.websocket.tls;
    const app = fastify({
      // Request lines at info would log every WebSocket upgrade; warnings and errors still show.
      loggerInstance: logger.child({ component: 'edge-http' }, { level: 'warn' }),
      trustProxy: config.websocket.behindTlsProxy,
      serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) =>
        serveTls ? createHttpsServer({ key, cert }, handler) : createHttpServer(handler),
    }) as unknown as FastifyInstance;

    const wsUrl = (host: string | undefined): string => {
      if (config.websocket.publicUrl !== undefined) return config.websocket.publicUrl;
      const scheme = serveTls || config.websocket.behindTlsProxy ? 'wss' : 'ws';
      return `${scheme}://${host ?? 'localhost'}${config.websocket.path}`;
    };

    // XEP-0156 §3: host-meta in XRD and JSON, readable from any origin.
    app.get('/.well-known/host-meta', (request, reply) => {
      const href = wsUrl(request.headers.host).replace(/&/g, '&amp;').replace(/'/g, '&apos;');
      return reply
        .header('access-control-allow-origin', '*')
        .type('application/xrd+xml')
        .send(
          `<?xml version='1.0' encoding='utf-8'?>\n<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n  <Link rel='${WS_ALT_CONNECTION}' href='${href}'/>\n</XRD>\n`,
        );
    });
    app.get('/.well-known/host-meta.json', (request, reply) =>
      reply
        .header('access-control-allow-origin', '*')
        .type('application/json')
        .send({ links: [{ rel: WS_ALT_CONNECTION, href: wsUrl(request.headers.host) }] }),
    );

    void app.register(websocket, {
      options: {
        maxPayload: config.limits.maxStanzaBytes,
        // RFC 7395 §3.1: the subprotocol is 'xmpp'; a handshake without it is refused below.
        handleProtocols: (protocols: Set<string>) => (protocols.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false),
      },
    });
    void app.register((scope, _opts, done) => {
      scope.get(config.websocket.path, { websocket: true }, (socket, request) => {
        if (socket.protocol !== WS_SUBPROTOCOL) {
          socket.close(1002, 'the xmpp subprotocol is required');
          return;
        }
        if (draining !== null || closing !== null) {
          socket.close(1001, 'shutting down');
          return;
        }
        const raw = request.raw.socket;
        const tls = raw instanceof TLSSocket ? raw : null;
        const ip = request.ip;
        const secure =
          tls !== null ||
          config.websocket.behindTlsProxy ||
          (config.websocket.allowInsecureLoopback && isLoopback(ip));
        accept(new WebSocketTransport(socket, ip, secure, tls, xmlLimits));
      });
      done();
    });
    // Web chat and operator console (web/index.ts).
    void app.register(registerWeb, {
      web: config.web,
      domains: [...domains],
      registrationEnabled: config.registration.enabled,
      websocketUrl: (request) => wsUrl(request.headers.host),
      store: deps.store,
      logger,
    });
    return app;
  };

  const listen = async (): Promise<ListeningPorts> => {
    const material =
      deps.tls ??
      (await loadTlsMaterial({
        keyFile: config.tls.keyFile,
        certFile: config.tls.certFile,
        dataDir: config.dataDir,
        domains: [...domains],
      }));
    const fakeSaltSecret =
      config.sasl.fakeSaltSecret === undefined
        ? await persistentSecret(config.dataDir)
        : Buffer.from(config.sasl.fakeSaltSecret, 'utf8');
    context = {
      config,
      edgeId,
      domains,
      store: deps.store,
      logger,
      metrics,
      throttle: deps.throttle ?? new LoginThrottle(),
      registrations: new SlidingWindowLimit(config.registration.perIpPerHour, 3600_000),
      fakeSaltSecret,
      publisher,
      resumption,
      fastTokens: deps.fastTokens ?? createMemoryFastTokenStore(),
      streamClosed,
      streamDetached,
      adoptSession,
    };
    const secureContext = createSecureContext({ key: material.key, cert: material.cert });

    // Stanzas are small and latency-bound: Nagle + delayed ACKs would add ~40 ms to a reply.
    tcpServer = createTcpServer({ noDelay: true, keepAlive: true }, (socket) =>
      accept(new SocketTransport(socket, secureContext, xmlLimits)),
    );
    // XEP-0368 §3: ALPN 'xmpp-client' on the direct TLS port.
    tlsServer = createTlsServer(
      {
        key: material.key,
        cert: material.cert,
        ALPNProtocols: ['xmpp-client'],
        noDelay: true,
        keepAlive: true,
      },
      (socket) => accept(new SocketTransport(socket, null, xmlLimits)),
    );
    tlsServer.on('tlsClientError', (error) => logger.debug({ err: error }, 'tls handshake failed'));
    http = buildHttp(material.key, material.cert);

    const tcpPort = await listenOn(tcpServer, config.ports.starttls, config.host);
    const tlsPort = await listenOn(tlsServer, config.ports.directTls, config.host);
    await http.listen({ port: config.ports.http, host: config.host });
    const httpPort = (http.server.address() as AddressInfo).port;
    let componentPort: number | null = null;
    if (config.components.length > 0) {
      components = new ComponentListener({
        components: config.components,
        servedDomains: domains,
        edgeId,
        partitions: config.partitions,
        xmlLimits,
        handshakeTimeoutMs: config.limits.authTimeoutSeconds * 1000,
        bus: deps.bus,
        publisher,
        logger,
      });
      componentPort = await components.listen(config.ports.component, config.host);
    }

    consumer = deps.bus.consume({
      streams: [Streams.deliver(edgeId)],
      group: Groups.edge,
      consumer: edgeId,
      handler: handleDeliveries,
      onError: (error) => logger.error({ err: error }, 'delivery consumer error'),
    });
    const { keepaliveSeconds, idleTimeoutSeconds, authTimeoutSeconds } = config.limits;
    const period = Math.min(
      1000,
      Math.max(50, (Math.min(keepaliveSeconds, idleTimeoutSeconds, authTimeoutSeconds) * 1000) / 4),
    );
    ticker = setInterval(tick, period);
    ticker.unref();
    listening = true;
    logger.info({ tcpPort, tlsPort, httpPort, componentPort, domains: [...domains] }, 'edge listening');
    return { tcpPort, tlsPort, httpPort, componentPort };
  };

  const waitForStreams = async (timeoutMs: number): Promise<void> => {
    const all = Promise.all([...streams.values(), ...detached.values()].map((s) => s.closed));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([all, timeout]);
    clearTimeout(timer);
  };

  const drain = (): Promise<void> => {
    draining ??= (async () => {
      tcpServer?.close();
      tlsServer?.close();
      const host = config.drain.seeOtherHost;
      const componentsClosed = components?.close();
      for (const stream of streams.values()) {
        // RFC 6120 §4.9.3.19 see-other-host, or §4.9.3.20 system-shutdown. Resumable sessions
        // are detached, not ended: until the drain is over the client can resume on another edge.
        const hold = config.drain.holdResumable;
        if (host !== undefined) stream.shutdown('see-other-host', undefined, host, hold);
        else stream.shutdown('system-shutdown', undefined, undefined, hold);
      }
      if (!config.drain.holdResumable) {
        for (const stream of [...detached.values()]) stream.expire();
      }
      await waitForStreams(config.limits.drainTimeoutSeconds * 1000);
      for (const stream of streams.values()) stream.destroy();
      // Sessions nobody resumed end here: their unacked stanzas go back through the router.
      for (const stream of [...detached.values()]) stream.expire();
      await waitForStreams(1000);
      await componentsClosed;
      await publisher.flushed();
      logger.info('edge drained');
    })();
    return draining;
  };

  const close = (): Promise<void> => {
    closing ??= (async () => {
      listening = false;
      if (ticker !== null) clearInterval(ticker);
      tcpServer?.close();
      tlsServer?.close();
      for (const stream of [...streams.values(), ...detached.values()]) stream.terminate();
      await waitForStreams(2000);
      await components?.close();
      await consumer?.stop();
      await http?.close();
      await publisher.flushed();
    })();
    return closing;
  };

  return {
    edgeId,
    listen,
    ready: () => listening && draining === null && closing === null,
    connectionCount: () => streams.size,
    drain,
    close,
  };
}

function listenOn(server: NetServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function isLoopback(ip: string): boolean {
  if (isIP(ip) === 4) return ip.startsWith('127.');
  return ip === '::1' || ip.startsWith('::ffff:127.');
}

/** A random key kept under dataDir, so fake salts stay the same across restarts (sasl/README.md). */
async function persistentSecret(dataDir: string): Promise<Buffer> {
  const path = join(dataDir, 'sasl-fake-salt.key');
  try {
    const existing = await readFile(path);
    if (existing.length >= 32) return existing;
  } catch {
    // not created yet
  }
  const secret = randomBytes(32);
  await mkdir(dataDir, { recursive: true });
  await writeFile(path, secret, { mode: 0o600 });
  return secret;
}
