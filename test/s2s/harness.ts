// Building blocks of the s2s tests: a federating peer made of our own s2s service on the in-process
// bus (what it receives lands in an Inbox), a TCP "black hole" that accepts and never answers, and
// s2s processes (services/s2s/dist/main.js) whose JSON log lines can be awaited.
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createMemoryBus, type Bus } from '../../packages/bus/src/index.js';
import {
  ENVELOPE_VERSION,
  decodeEnvelope,
  encodeEnvelope,
  partitionOf,
  Streams,
  type Envelope,
} from '@switchboard/protocol';
import { build as buildS2s, type S2s, type S2sConfig } from '../../services/s2s/src/app.js';
import { ROOT } from '../e2e/deployments.js';
import { Inbox } from '@switchboard/testkit';
import { quietLogger } from '../support/standalone.js';
import { ServiceProcess, type LogLine } from '../support/service-process.js';

const pexec = promisify(execFile);
export const TLS_KEY = join(ROOT, 'test/fixtures/tls/server.key');
export const TLS_CERT = join(ROOT, 'test/fixtures/tls/server.pem');
export const CA = join(ROOT, 'test/fixtures/tls/ca.pem');

/** An s2s config for a test node: loopback, free ports, the test certificate, static hosts only. */
export function s2sTestConfig(overrides: Partial<S2sConfig> & Pick<S2sConfig, 'domains'>): S2sConfig {
  return {
    ports: { starttls: 0, directTls: 0 },
    host: '127.0.0.1',
    tls: { keyFile: TLS_KEY, certFile: TLS_CERT },
    dialback: { enabled: true, allow: [], deny: [] },
    allow: [],
    deny: [],
    staticHosts: {},
    dns: false,
    dnsServers: [],
    bidi: true,
    idleTimeoutMs: 300_000,
    connectTimeoutMs: 10_000,
    connectAttempts: 1,
    backoffMs: 200,
    backoffMaxMs: 1000,
    partitions: 4,
    nodeId: 'test-node',
    components: [],
    routePartitions: 1,
    dataDir: tmpdir(),
    ...overrides,
  };
}

/**
 * Our s2s service alone on the in-process bus, serving `domain`: what it publishes for the router
 * (stanzas from remote servers, bounces) lands in `received`; `send` hands it a stanza the way a
 * router does, on `s2s:{p}`. As a remote peer it is a federating XMPP server of its own.
 */
export interface S2sNode {
  readonly domain: string;
  readonly s2s: S2s;
  readonly bus: Bus;
  readonly ports: { readonly starttls: number; readonly directTls: number | null };
  readonly received: Inbox<Envelope>;
  readonly logs: string[];
  /** Publishes a stanza for a remote domain on its `s2s:{p}` stream, as the router would. */
  send(envelope: Envelope): Promise<void>;
  /** Entries of `s2s:{p}` read but not acked yet (queued, not yet written or bounced). */
  pending(remoteDomain: string): Promise<number>;
  close(): Promise<void>;
}

export async function startS2sNode(domain: string, overrides: Partial<S2sConfig> = {}): Promise<S2sNode> {
  const bus = createMemoryBus();
  const logs: string[] = [];
  const config = s2sTestConfig({ domains: [domain], nodeId: `node-${domain}`, ...overrides });
  const s2s = buildS2s(config, {
    bus,
    logger: quietLogger(`node-${domain}`, logs),
  });
  const ports = await s2s.start();
  const received = new Inbox<Envelope>();
  await bus.ensureGroup(Streams.route(0), 'test');
  const consumer = bus.consume({
    streams: [Streams.route(0)],
    group: 'test',
    consumer: 'test',
    handler: (entries) => {
      for (const entry of entries) received.push(decodeEnvelope(entry.payload));
      return Promise.resolve();
    },
  });
  return {
    domain,
    s2s,
    bus,
    ports,
    received,
    logs,
    async send(envelope) {
      // The router partitions federation streams by the remote domain.
      const domain = envelope.to.split('@').pop()!.split('/')[0]!;
      await bus.publish(Streams.s2s(partitionOf(domain, config.partitions)), encodeEnvelope(envelope));
    },
    async pending(remoteDomain) {
      return (await bus.pending(Streams.s2s(partitionOf(remoteDomain, config.partitions)), 's2s')).count;
    },
    async close() {
      await consumer.stop();
      await s2s.close();
      await bus.close();
    },
  };
}

/** An envelope of a chat message as a router hands it to s2s. */
export function chatEnvelope(from: string, to: string, id: string, body: string): Envelope {
  return {
    v: ENVELOPE_VERSION,
    id: `env-${id}`,
    kind: 'message',
    edgeId: '',
    sessionId: '',
    from,
    to,
    type: 'chat',
    stanzaId: id,
    xml: `<message xmlns='jabber:client' id='${id}' type='chat'><body>${body}</body></message>`,
    ts: Date.now(),
  };
}

/** Resolves once `check` holds; for state reached through an extra round trip (acks), checked every 50 ms. */
export async function eventually(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Accepts TCP connections and never says a word: a server that hangs. */
export interface BlackHole {
  readonly port: number;
  readonly connections: Inbox<Socket>;
  close(): Promise<void>;
}

export async function startBlackHole(): Promise<BlackHole> {
  const connections = new Inbox<Socket>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    connections.push(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A self-signed certificate for `domain`, written into `dir`: no CA a peer trusts has signed it. */
export async function selfSignedCertificate(
  dir: string,
  domain: string,
): Promise<{ keyFile: string; certFile: string }> {
  const keyFile = join(dir, 'self.key');
  const certFile = join(dir, 'self.pem');
  await pexec('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    `/CN=${domain}`,
    '-addext',
    `subjectAltName=DNS:${domain}`,
  ]);
  return { keyFile, certFile };
}

let built: Promise<void> | undefined;

/** Compiles services/s2s and what it depends on (tsc -b, incremental) so the processes run current code. */
export function buildS2sService(): Promise<void> {
  built ??= pexec(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', join(ROOT, 'services/s2s')],
    { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
  ).then(
    () => undefined,
    (error: { stdout?: string; stderr?: string }) => {
      throw new Error(`tsc -b services/s2s failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    },
  );
  return built;
}

export type { LogLine } from '../support/service-process.js';

/** One `node services/s2s/dist/main.js` with a JSON config file of its own. */
export class S2sProcess extends ServiceProcess {
  static start(name: string, config: Record<string, unknown>): Promise<S2sProcess> {
    return ServiceProcess.launch((dir) => new S2sProcess(name, dir), 's2s', config, ['s2s ready']);
  }

  /** The partitions it owns, as of its last ownership log line, once they pass `test`. */
  async waitForOwned(test: (owned: readonly number[]) => boolean, what: string): Promise<readonly number[]> {
    const owned = (l: LogLine): number[] | undefined =>
      (l.msg === 's2s partition ownership changed' ? (l['held'] as number[]) : undefined) ??
      (l.msg === 's2s ready' ? (l['owned'] as number[]) : undefined);
    const line = await this.waitFor((l) => {
      const last = [...this.lines.items].reverse().find((x) => owned(x) !== undefined);
      return last === l && test(owned(l)!);
    }, what);
    return owned(line)!;
  }
}
