import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { TLSSocket, createSecureContext, type SecureContext } from 'node:tls';
import { DEFAULT_MAX_LENGTH, type Bus, type BusEntry, type Consumer, type Fence } from '@switchboard/bus';
import { bareJid, tryParseJid } from '@switchboard/jid';
import type { Logger, Metrics } from '@switchboard/kit';
import {
  ENVELOPE_VERSION,
  Groups,
  Streams,
  decodeEnvelope,
  encodeEnvelope,
  partitionOf,
  type Envelope,
  type EnvelopeKind,
} from '@switchboard/protocol';
import { NS, parseElement, xml, type Element } from '@switchboard/xml';
import type { Redis } from 'ioredis';
import { createS2sLeases, type S2sLeases } from './cluster/leases.js';
import type { S2sConfig } from './config.js';
import { ServerConnection } from './connection.js';
import { InboundStream } from './inbound.js';
import { OutboundLink, type BounceCondition, type OutboundItem } from './link.js';
import { negotiate, type NegotiatedStream } from './outbound.js';
import { NS_DIALBACK } from './dialback.js';
import { createPolicy } from './policy.js';
import { createResolver, type Resolver } from './resolver.js';

export { s2sProcessConfigSchema, s2sSettingsSchema, type S2sConfig, type S2sSettings } from './config.js';
export { createResolver, type Resolver, type Resolution, type Target } from './resolver.js';

export interface S2sDeps {
  readonly bus: Bus;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Replaces the DNS/static-map resolver built from config. */
  readonly resolver?: Resolver;
  /**
   * Cluster mode: partitions are owned through leases in this Redis (see
   * cluster/leases.ts). Without it this node owns every partition.
   */
  readonly redis?: Redis;
}

export interface S2sPorts {
  readonly starttls: number;
  readonly directTls: number | null;
}

export interface S2s {
  /** Loads certificates, consumes `s2s:{p}` (the partitions it owns) and opens the listeners. */
  start(): Promise<S2sPorts>;
  /** Partitions of `s2s:{p}` this node owns now, ascending. */
  readonly owned: readonly number[];
  /** Called after every change of `owned`. */
  onOwnershipChange(listener: (owned: readonly number[]) => void): void;
  /** Closes listeners, streams and the consumer. Idempotent. */
  close(): Promise<void>;
}

const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const KINDS: ReadonlySet<string> = new Set(['message', 'presence', 'iq']);

/**
 * Server-to-server federation (RFC 6120, XEP-0220, XEP-0288, XEP-0368):
 * reads the stanzas routers put on `s2s:{p}` and sends them over one
 * outbound stream per (local, remote) domain pair; accepts streams from
 * remote servers and publishes their stanzas to the recipient's route
 * partition. One node owns a partition's domains: through leases with a
 * Redis in the deps (cluster/leases.ts), else this process owns them all.
 * An entry is acked only once its stanza is written to the remote stream or
 * bounced, so what a node held when it died is sent by the next owner.
 */
export function build(config: S2sConfig, deps: S2sDeps): S2s {
  const logger = deps.logger;
  const policy = createPolicy(config);
  const resolver =
    deps.resolver ??
    createResolver({ staticHosts: config.staticHosts, dns: config.dns, servers: config.dnsServers });
  const secret = config.dialback.secret ?? randomBytes(32).toString('hex');
  const links = new Map<string, OutboundLink>();
  const inbound = new Set<InboundStream>();
  const servers: Server[] = [];
  let context: SecureContext | undefined;
  let consumer: Consumer | undefined;
  let leases: S2sLeases | undefined;
  let closing: Promise<void> | undefined;
  const streams = Array.from({ length: config.partitions }, (_, p) => Streams.s2s(p));
  const partitionOfStream = new Map(streams.map((stream, p) => [stream, p]));
  /** Partitions whose domains this node sends to: all of them, or what its leases hold. */
  let owned = new Set<number>(deps.redis === undefined ? streams.keys() : []);
  const ownershipListeners: ((owned: readonly number[]) => void)[] = [];
  const ownedList = (): number[] => [...owned].sort((a, b) => a - b);
  const partitionOfDomain = (domain: string): number => partitionOf(domain, config.partitions);

  const m = deps.metrics;
  const stanzas = m?.counter({
    name: 's2s_stanzas_total',
    help: 'Stanzas exchanged with remote domains',
    labelNames: ['direction', 'domain'],
  });
  const connections = m?.gauge({
    name: 's2s_connections',
    help: 'Open authenticated server streams',
    labelNames: ['direction', 'domain'],
  });
  const failures = m?.counter({
    name: 's2s_connect_failures_total',
    help: 'Outbound streams that could not be established',
    labelNames: ['domain', 'reason'],
  });
  const bounces = m?.counter({
    name: 's2s_bounced_total',
    help: 'Stanzas bounced because a remote domain could not be reached',
    labelNames: ['domain', 'condition'],
  });
  const auths = m?.counter({
    name: 's2s_authentications_total',
    help: 'Remote domains authenticated on inbound streams',
    labelNames: ['domain', 'method'],
  });

  /** A stanza for the router, entering the pipeline like a client's (RFC 6120 §10). */
  const publishToRouter = async (el: Element, fences?: readonly Fence[]): Promise<void> => {
    const to = el.attrs['to'] ?? '';
    const env: Envelope = {
      v: ENVELOPE_VERSION,
      id: randomUUID(),
      kind: el.getName() as EnvelopeKind,
      edgeId: '',
      sessionId: '',
      from: el.attrs['from'] ?? '',
      to,
      type: el.attrs['type'] ?? '',
      stanzaId: el.attrs['id'] ?? '',
      xml: toClientNamespace(el).toString(),
      ts: Date.now(),
    };
    const item = {
      stream: Streams.route(partitionOf(bareJid(to), config.routePartitions)),
      payload: encodeEnvelope(env),
    };
    await deps.bus.publishBatch([item], fences === undefined ? {} : { fences });
  };
  const toRouter = (el: Element): void => {
    publishToRouter(el).catch((err: unknown) =>
      logger.error({ err }, 'publishing an s2s stanza to the router failed'),
    );
  };

  /**
   * Sends the stanza back to its sender with `condition`; true once that is
   * published (or nothing is due), false when this node no longer owns the
   * remote domain's partition: the bounce is fenced by the lease, so the
   * entry stays pending for the next owner instead.
   */
  const bounce = async (
    stanzaXml: string,
    remote: string,
    condition: BounceCondition,
    text: string,
  ): Promise<boolean> => {
    let el: Element;
    try {
      el = parseElement(stanzaXml);
    } catch {
      return true;
    }
    const type = el.attrs['type'];
    // RFC 6120 §8.3.1: no error about an error or a result; presence is not answered (RFC 6121 §4.3).
    if (type === 'error' || (el.getName() === 'iq' && type === 'result') || el.getName() === 'presence')
      return true;
    let fences: Fence[] | undefined;
    if (leases !== undefined) {
      const fence = leases.fence(partitionOfDomain(remote));
      if (fence === undefined) return false;
      fences = [fence];
    }
    bounces?.inc({ domain: remote, condition });
    const from = el.attrs['from'] ?? '';
    el.attrs['from'] = el.attrs['to'] ?? remote;
    el.attrs['to'] = from;
    el.attrs['type'] = 'error';
    el.append(
      xml(
        'error',
        { type: condition === 'remote-server-timeout' ? 'wait' : 'cancel' },
        xml(condition, { xmlns: NS_STANZAS }),
        xml('text', { xmlns: NS_STANZAS }, text),
      ),
    );
    await publishToRouter(el, fences);
    return true;
  };

  /** Acks of entries whose stanza left this node, one XACK per turn of the event loop. */
  let toAck: BusEntry[] = [];
  const acking = new Set<Promise<void>>();
  const flushAcks = (): void => {
    if (toAck.length === 0) return;
    const batch = toAck;
    toAck = [];
    const done: Promise<void> = deps.bus
      .ackEntries(Groups.s2s, batch)
      .then(
        () => undefined,
        // A failed ack leaves the entry pending: sent again after a restart or takeover (at-least-once).
        (err: unknown) => logger.warn({ err }, 's2s ack failed'),
      )
      .finally(() => acking.delete(done));
    acking.add(done);
  };
  const ack = (entry: BusEntry): void => {
    toAck.push(entry);
    if (toAck.length === 1) setImmediate(flushAcks);
  };

  const linkFor = (local: string, remote: string): OutboundLink => {
    // Only reached for remotes of owned partitions, so links of other partitions are never opened.
    const key = `${local} ${remote}`;
    let link = links.get(key);
    if (link === undefined) {
      link = new OutboundLink(local, remote, {
        resolver,
        context: context!,
        secret,
        dialbackAllowed: policy.dialback(remote),
        bidi: config.bidi,
        connectTimeoutMs: config.connectTimeoutMs,
        connectAttempts: config.connectAttempts,
        backoffMs: config.backoffMs,
        backoffMaxMs: config.backoffMaxMs,
        idleTimeoutMs: config.idleTimeoutMs,
        bounce: (x, condition, text) => bounce(x, remote, condition, text),
        onState: (state) => connections?.inc({ direction: 'out', domain: remote }, state === 'up' ? 1 : -1),
        onFailure: (reason) => failures?.inc({ domain: remote, reason }),
        onSent: () => stanzas?.inc({ direction: 'out', domain: remote }),
        receive: (el, stream) => receiveOnOutbound(el, stream, local, remote),
        log: (fields, message) => logger.warn(fields, message),
      });
      links.set(key, link);
    }
    return link;
  };

  /** A stanza a router handed us for a remote domain; `done` once it was written or bounced. */
  const outbound = (env: Envelope, done: () => void): void => {
    const remote = tryParseJid(env.to)?.domain;
    const local = tryParseJid(env.from)?.domain;
    if (!KINDS.has(env.kind) || remote === undefined || local === undefined) {
      done();
      return;
    }
    if (!policy.isLocal(local)) {
      logger.warn(
        { envelopeId: env.id, from: env.from },
        'dropping a stanza for a remote domain from a domain not served here',
      );
      done();
      return;
    }
    if (!policy.federates(remote)) {
      bounce(env.xml, remote, 'policy-violation', `federation with ${remote} is not allowed`).then(
        (published) => {
          if (published) done();
        },
        (err: unknown) => logger.warn({ err, envelopeId: env.id }, 'bouncing a stanza failed'),
      );
      return;
    }
    const el = parseElement(env.xml);
    el.attrs['xmlns'] = NS.SERVER;
    el.attrs['from'] = env.from;
    el.attrs['to'] = env.to;
    const item: OutboundItem = { xml: el.toString(), done };
    linkFor(local, remote).send(item);
  };

  const handleEntries = (entries: readonly BusEntry[]): Promise<void> => {
    for (const entry of entries) {
      const p = partitionOfStream.get(entry.stream);
      // A read served just before the partition was dropped, or a lease that may have lapsed
      // unnoticed: the entries stay pending for the owner.
      if (p === undefined || !owned.has(p) || (leases !== undefined && leases.fence(p) === undefined))
        continue;
      try {
        outbound(decodeEnvelope(entry.payload), () => ack(entry));
      } catch (error) {
        logger.warn({ err: error, entryId: entry.id }, 'dropping an unreadable s2s entry');
        ack(entry);
      }
    }
    return Promise.resolve();
  };

  const setOwned = (next: Set<number>): void => {
    owned = next;
    consumer?.setStreams(ownedList().map((p) => Streams.s2s(p)));
    const list = ownedList();
    for (const listener of ownershipListeners) listener(list);
  };

  /** Partition ownership moved away: close its links, their unsent entries stay pending. */
  const drop = (partitions: readonly number[]): Promise<void> => {
    const gone = new Set(partitions);
    setOwned(new Set([...owned].filter((p) => !gone.has(p))));
    for (const [key, link] of links) {
      if (!gone.has(partitionOfDomain(link.remote))) continue;
      link.close();
      links.delete(key);
    }
    return Promise.resolve();
  };

  /** Partitions taken over: what the previous owner read but never sent becomes ours, read first. */
  const take = async (partitions: readonly number[]): Promise<void> => {
    for (const p of partitions) {
      const stream = Streams.s2s(p);
      await deps.bus.ensureGroup(stream, Groups.s2s);
      // Idle 0: the lease says nobody else sends for this partition now. The consumer then reads
      // this node's pending entries of the stream first, so order per domain holds.
      const claimed = await deps.bus.claimStale(stream, Groups.s2s, config.nodeId, 0, DEFAULT_MAX_LENGTH);
      if (claimed.length > 0)
        logger.info({ partition: p, count: claimed.length }, 'claimed pending s2s entries');
      // Forget the consumer names of nodes that are gone, now that their entries are ours.
      const alive = new Set([config.nodeId, ...(leases?.live ?? [])]);
      await deps.bus.removeConsumers(stream, Groups.s2s, (name) => alive.has(name));
    }
    setOwned(new Set([...owned, ...partitions]));
  };

  /** XEP-0220 §2.1.2 receiving role: ask the remote's authoritative server over a fresh stream. */
  const verify = async (remote: string, local: string, streamId: string, key: string): Promise<boolean> => {
    const resolution = await resolver.resolve(remote);
    if (!('targets' in resolution)) throw new Error(`no server found for ${remote}`);
    let last: unknown = new Error(`no server found for ${remote}`);
    for (const target of resolution.targets) {
      try {
        const stream = await negotiate({
          target,
          local,
          remote,
          context: context!,
          secret,
          dialbackAllowed: true,
          mode: 'verify',
          signal: AbortSignal.timeout(config.connectTimeoutMs),
        });
        return await new Promise<boolean>((resolve, reject) => {
          const timer = setTimeout(() => {
            stream.conn.close();
            reject(new Error('db:verify timed out'));
          }, config.connectTimeoutMs);
          stream.onElement((el) => {
            if (!el.is('verify', NS_DIALBACK) || el.attrs['id'] !== streamId) return;
            clearTimeout(timer);
            // Settled first: closing reports the close, which must not turn the answer into an error.
            resolve(el.attrs['type'] === 'valid');
            stream.conn.close();
          });
          stream.onClosed(() => {
            clearTimeout(timer);
            reject(new Error(`${remote} closed before answering db:verify`));
          });
          stream.conn.send(xml('db:verify', { from: local, to: remote, id: streamId }, key));
        });
      } catch (error) {
        last = error;
      }
    }
    throw last;
  };

  /**
   * XEP-0288: a stanza on our own stream from a peer that made it bidirectional. The peer is who
   * its certificate says (negotiate() asks for bidi only then), so it may speak for `remote` only.
   */
  const receiveOnOutbound = (el: Element, stream: NegotiatedStream, local: string, remote: string): void => {
    if (el.getNS() !== NS.SERVER || !KINDS.has(el.getName())) {
      logger.warn({ remote, element: el.getName() }, 'ignored element on a bidirectional stream');
      return;
    }
    const from = tryParseJid(el.attrs['from'] ?? '');
    const to = tryParseJid(el.attrs['to'] ?? '');
    if (from === null || to === null) {
      stream.conn.streamError('improper-addressing'); // RFC 6120 §4.9.3.7
      return;
    }
    if (from.domain !== remote) {
      stream.conn.streamError('invalid-from', `${from.domain} is not authenticated on this stream`);
      return;
    }
    if (to.domain !== local && !policy.isLocal(to.domain)) {
      stream.conn.streamError('host-unknown', `${to.domain} is not served here`);
      return;
    }
    el.attrs['from'] = from.toString();
    el.attrs['to'] = to.toString();
    stanzas?.inc({ direction: 'in', domain: remote });
    toRouter(el);
  };

  /** Close handlers of inbound streams adopted by links for sending (XEP-0288). */
  const adoptedClosers = new Map<InboundStream, (reason: Error | null) => void>();

  /** XEP-0288: an authenticated bidirectional inbound stream may carry what we send to its peer. */
  const onBidi = (stream: InboundStream, local: string, remote: string): void => {
    // Only the owner of the remote domain's partition sends to it (cluster/leases.ts).
    if (!policy.isLocal(local) || !owned.has(partitionOfDomain(remote))) return;
    const adopted = linkFor(local, remote).adopt({
      conn: stream.conn,
      method: 'bidi',
      bidi: false, // its incoming stanzas are the InboundStream's to check and deliver
      onElement: () => undefined,
      onClosed: (handler) => adoptedClosers.set(stream, handler),
    });
    if (adopted) logger.info({ local, remote }, 'sending over the bidirectional stream of the remote');
  };

  const accept = (conn: ServerConnection): void => {
    const stream = new InboundStream(conn, {
      context: context!,
      policy,
      secret,
      idleTimeoutMs: config.idleTimeoutMs,
      bidi: config.bidi,
      onBidi,
      verify,
      deliver: (el, domain) => {
        stanzas?.inc({ direction: 'in', domain });
        toRouter(el);
      },
      onAuthenticated: (domain, method) => {
        auths?.inc({ domain, method });
        connections?.inc({ direction: 'in', domain });
      },
      onClosed: (s) => {
        inbound.delete(s);
        adoptedClosers.get(s)?.(null);
        adoptedClosers.delete(s);
        for (const domain of s.authenticated) connections?.dec({ direction: 'in', domain });
      },
      log: (fields, message) => logger.warn(fields, message),
    });
    inbound.add(stream);
  };

  const listen = (server: Server, port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, config.host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });

  return {
    async start() {
      const keyFile = config.tls.keyFile ?? join(config.dataDir, 'dev-tls.key');
      const certFile = config.tls.certFile ?? join(config.dataDir, 'dev-tls.pem');
      const [key, cert] = await Promise.all([readFile(keyFile, 'utf8'), readFile(certFile, 'utf8')]);
      const ctx = createSecureContext({ key, cert, minVersion: 'TLSv1.2' });
      if (config.tls.caFile !== undefined) {
        // Added to Node's default store, which keeps the system roots and NODE_EXTRA_CA_CERTS.
        (ctx.context as { addCACert(pem: string): void }).addCACert(
          await readFile(config.tls.caFile, 'utf8'),
        );
      }
      context = ctx;

      await Promise.all(streams.map((s) => deps.bus.ensureGroup(s, Groups.s2s)));
      // Acks are ours: an entry is acked once its stanza is written to the remote stream or bounced.
      consumer = deps.bus.consume({
        streams: ownedList().map((p) => Streams.s2s(p)),
        group: Groups.s2s,
        consumer: config.nodeId,
        autoAck: false,
        handler: handleEntries,
        onError: (error) => logger.error({ err: error }, 's2s consumer error'),
      });
      if (deps.redis !== undefined) {
        const timings = config.cluster ?? { leaseTtlMs: 5000, heartbeatMs: 1000, nodeTtlMs: 5000 };
        leases = createS2sLeases({
          redis: deps.redis,
          owner: { take, drop },
          nodeId: config.nodeId,
          partitions: config.partitions,
          logger,
          ...timings,
        });
        await leases.start();
      }

      const plain = createServer((socket) => accept(new ServerConnection(socket)));
      servers.push(plain);
      const starttls = await listen(plain, config.ports.starttls);
      let directTls: number | null = null;
      if (config.ports.directTls !== null) {
        // Each socket is wrapped with our context (tls.createServer ignores a `secureContext` option,
        // and that context carries the extra CA from tls.caFile).
        const tlsServer = createServer((plain) => {
          const socket = new TLSSocket(plain, {
            isServer: true,
            secureContext: ctx,
            requestCert: true,
            rejectUnauthorized: false,
            ALPNProtocols: ['xmpp-server'], // XEP-0368 §3
          });
          const onHandshakeError = (err: Error): void => {
            logger.info({ err }, 'direct TLS handshake failed');
            socket.destroy();
          };
          socket.once('error', onHandshakeError);
          socket.once('secure', () => {
            socket.off('error', onHandshakeError);
            accept(new ServerConnection(socket));
          });
        });
        servers.push(tlsServer);
        directTls = await listen(tlsServer, config.ports.directTls);
      }
      logger.info({ starttls, directTls }, 's2s listening');
      return { starttls, directTls };
    },
    close() {
      closing ??= (async () => {
        // Hands the partitions back first: unsent stanzas stay pending for the next owner.
        await leases?.stop();
        await consumer?.stop();
        const closed = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
        for (const link of links.values()) link.close();
        for (const stream of inbound) stream.conn.close();
        // What was written before the close is acked before the bus goes.
        flushAcks();
        await Promise.all([...closed, ...acking]);
      })();
      return closing;
    },
    get owned() {
      return ownedList();
    },
    onOwnershipChange(listener) {
      ownershipListeners.push(listener);
    },
  };
}

/** The envelope's XML is in jabber:client (see the edge's component stanzas); the stream's declarations go. */
function toClientNamespace(el: Element): Element {
  el.attrs['xmlns'] = NS.CLIENT;
  delete el.attrs['xmlns:stream'];
  delete el.attrs['xmlns:db'];
  return el;
}
