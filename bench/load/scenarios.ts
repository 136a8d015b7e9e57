/**
 * Side-by-side XMPP load scenarios: Switchboard (embedded), ejabberd and Prosody
 * measured in the same run on the same machine with the same client.
 *
 * Run alone: node --import tsx bench/load/scenarios.ts [idle|login|messaging ...]
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Generator } from './driver.js';
import type { MessagingResult, StormResult, UsersSpec, WindowEvent } from './generator.js';
import { sampleTree, type TreeSample } from './proc-stats.js';
import { measureNodeTlsFloor } from './tls-floor.js';
import { ejabberd } from '../peers/ejabberd.js';
import { prosody } from '../peers/prosody.js';
import { switchboard } from '../peers/switchboard.js';
import {
  startSwitchboardCluster,
  switchboardCluster,
  type RunningCluster,
} from '../peers/switchboard-cluster.js';
import type { PeerSpec, RunningPeer } from '../peers/peer.js';

export interface BenchReport {
  readonly title: string;
  readonly markdown: string;
  readonly figures: Record<string, number>;
}

export interface CommonOptions {
  /**
   * Peers to run, by name (case-insensitive), run in this order: 'switchboard', 'ejabberd', 'prosody',
   * 'switchboard-cluster' (1 edge + 1 router + Redis), 'switchboard-cluster-2r' (2 routers),
   * 'switchboard-cluster-2e' (2 edges + 1 router; users alternate between the edges).
   * Default: switchboard, ejabberd and prosody.
   */
  readonly peers?: readonly string[];
  /** Server on CPU 0 and generator on CPU 1 (taskset); default true when there are two CPUs and taskset. */
  readonly pin?: boolean;
}

export interface IdleOptions extends CommonOptions {
  /** Connections to hold open. */
  readonly connections?: number;
}

export interface LoginOptions extends CommonOptions {
  readonly users?: number;
  readonly concurrency?: number;
  /** Measured rounds after one warm-up round. */
  readonly rounds?: number;
  /**
   * Variants, in this order: true logs in through STARTTLS on servers that require it, false on
   * plain TCP on servers started with SASL allowed without TLS. Default `[true, false]`.
   */
  readonly tls?: readonly boolean[];
}

export interface MessagingOptions extends CommonOptions {
  readonly users?: number;
  /** Aggregate offered rates, msgs/s, in order; the sweep stops after the first saturated one. */
  readonly rates?: readonly number[];
  readonly repeats?: number;
  readonly warmupMs?: number;
  readonly durationMs?: number;
  readonly bodyBytes?: number;
  /** An unmeasured run at the first rate after the logins, before the sweep; default 3000 ms, 0 for none. */
  readonly settleMs?: number;
  /**
   * Pairs [a, b] of peer names whose ratio a/b is reported at each common rate (CPU per message, p99).
   * Default: Switchboard against ejabberd and Prosody.
   */
  readonly ratios?: readonly (readonly [string, string])[];
  /** Section title; default `1:1 messaging (N online users, rate sweep)`. */
  readonly title?: string;
  /** A paragraph appended to the section (e.g. what the pinning means for the peers compared). */
  readonly note?: string;
}

const PASSWORD = 'bench-password';
const ALL_PEERS: readonly PeerSpec[] = [
  switchboard,
  ejabberd,
  prosody,
  switchboardCluster(1),
  switchboardCluster(2),
  switchboardCluster(1, { edges: 2, name: 'Switchboard-cluster-2e' }),
];
const DEFAULT_PEERS = ['switchboard', 'ejabberd', 'prosody'];
const SB = 'Switchboard';

const users = (n: number): string[] => Array.from({ length: n }, (_, i) => `u${i}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const key = (name: string): string => name.toLowerCase();

function pinning(options: CommonOptions): { server?: number; generator?: number; note: string } {
  let canPin = cpus().length >= 2;
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
  } catch {
    canPin = false;
  }
  if (options.pin === false || !canPin) {
    return { note: `not pinned: server and generator share all ${cpus().length} CPUs` };
  }
  return {
    server: 0,
    generator: 1,
    note: 'every server pinned to CPU 0 and the generator to CPU 1 (taskset, from process start)',
  };
}

interface PeerRun<T> {
  readonly name: string;
  readonly version?: string;
  readonly notes?: string;
  readonly result?: T;
  readonly skipped?: string;
}

/** Where a peer's users log in: spread over its entry points (a cluster's edges) when it has several. */
function entryPoints(peer: RunningPeer): Pick<UsersSpec, 'target' | 'targets'> {
  return peer.targets === undefined || peer.targets.length < 2
    ? { target: peer.target }
    : { target: peer.target, targets: peer.targets };
}

/** Starts a fresh generator and peer, runs `body`, stops both. */
async function withPeers<T>(
  options: CommonOptions,
  accounts: number,
  body: (peer: RunningPeer, gen: Generator) => Promise<T>,
  contacts = 0,
  /** Start each peer with SASL allowed without TLS (the login storm's no-TLS variant). */
  plaintextAuth = false,
): Promise<{ runs: PeerRun<T>[]; pinNote: string }> {
  const pin = pinning(options);
  const wanted = (options.peers ?? DEFAULT_PEERS).map(key);
  const unknown = wanted.filter((w) => !ALL_PEERS.some((spec) => key(spec.name) === w));
  if (unknown.length > 0) {
    throw new Error(
      `unknown peer(s) ${unknown.join(', ')}; known: ${ALL_PEERS.map((p) => key(p.name)).join(', ')}`,
    );
  }
  const runs: PeerRun<T>[] = [];
  for (const spec of ALL_PEERS) {
    if (!wanted.includes(key(spec.name))) continue;
    const gen = Generator.start(pin.generator);
    try {
      console.error(`  ${spec.name}: starting with ${accounts} accounts…`);
      const peer = await spec.start({
        users: users(accounts),
        password: PASSWORD,
        contacts,
        ...(pin.server === undefined ? {} : { cpu: pin.server }),
        ...(plaintextAuth ? { allowPlaintextAuth: true } : {}),
      });
      if ('skipped' in peer) {
        console.error(`  ${spec.name}: skipped: ${peer.skipped}`);
        runs.push({ name: spec.name, skipped: peer.skipped });
        continue;
      }
      try {
        const result = await body(peer, gen);
        runs.push({ name: spec.name, version: peer.version, notes: peer.notes, result });
      } catch (err) {
        const reason = `failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
        console.error(`  ${spec.name}: ${reason}`);
        runs.push({ name: spec.name, version: peer.version, notes: peer.notes, skipped: reason });
      } finally {
        await peer.stop();
      }
    } finally {
      await gen.stop();
    }
  }
  return { runs, pinNote: pin.note };
}

const fmt = (x: number, digits = 0): string =>
  Number.isFinite(x)
    ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '—';
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0
    ? '—'
    : `${(a / b).toFixed(2)}×`;
const range = (xs: readonly number[], digits = 0): string => {
  const finite = xs.filter(Number.isFinite);
  if (finite.length === 0) return '—';
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return lo === hi || finite.length === 1
    ? fmt(lo, digits)
    : `${fmt(median(finite), digits)} (${fmt(lo, digits)}–${fmt(hi, digits)})`;
};
function median(xs: readonly number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function header(runs: readonly PeerRun<unknown>[], pinNote: string): string {
  const lines = runs.map((r) =>
    r.skipped !== undefined && r.version === undefined
      ? `- ${r.name}: **skipped** (${r.skipped})`
      : `- ${r.version ?? r.name}: ${r.notes ?? ''}${r.skipped !== undefined ? ` — **${r.skipped}**` : ''}`,
  );
  return [...lines, `- ${pinNote}`, ''].join('\n');
}

function ratioLines(
  runs: readonly PeerRun<unknown>[],
  metric: string,
  value: (name: string) => number | undefined,
  figures: Record<string, number>,
  figureKey: string,
): string {
  const sb = value(SB);
  const parts: string[] = [];
  for (const peer of ['ejabberd', 'Prosody']) {
    const v = value(peer);
    if (sb !== undefined && v !== undefined && Number.isFinite(sb) && Number.isFinite(v) && v !== 0) {
      figures[`${figureKey}.ratio_vs_${key(peer)}`] = sb / v;
    }
    if (runs.some((r) => r.name === peer)) parts.push(`Switchboard/${peer} ${ratio(sb, v)}`);
  }
  return parts.length === 0 ? '' : `${metric}: ${parts.join(', ')}.`;
}

// ---------------------------------------------------------------- (a) idle connections

interface IdleResult {
  readonly connections: number;
  readonly before: TreeSample;
  readonly after: TreeSample;
  readonly loginsPerSecond: number;
  readonly failed: number;
  readonly tls: string;
  /** Server CPU while the connections sit idle, % of one core. */
  readonly idleCpuPercent: number;
}

/** (a) K authenticated TLS connections with initial presence, held idle: RSS per connection. */
export async function runIdleBench(options: IdleOptions = {}): Promise<BenchReport> {
  const k = options.connections ?? 2000;
  const { runs, pinNote } = await withPeers<IdleResult>(options, k, async (peer, gen) => {
    await sleep(1000);
    const before = sampleTree(peer.pids);
    const login = await gen.call({
      op: 'login',
      ...entryPoints(peer),
      users: users(k),
      password: PASSWORD,
      concurrency: 50,
    });
    if (login.failed > 0) throw new Error(`${login.failed} logins failed: ${login.errors.join('; ')}`);
    await sleep(2000);
    const after = sampleTree(peer.pids);
    await sleep(3000);
    const idle = sampleTree(peer.pids);
    await gen.call({ op: 'close-all' });
    return {
      connections: login.ok,
      before,
      after,
      loginsPerSecond: login.ok / login.wallSeconds,
      failed: login.failed,
      tls: login.tls,
      idleCpuPercent: ((idle.cpuSeconds - after.cpuSeconds) / 3) * 100,
    };
  });
  const figures: Record<string, number> = {};
  const perConn = (name: string): number | undefined => {
    const r = runs.find((x) => x.name === name)?.result;
    return r === undefined ? undefined : (r.after.rssBytes - r.before.rssBytes) / r.connections / 1024;
  };
  const rows = runs.map((r) => {
    const x = r.result;
    if (x === undefined) return `| ${r.name} | skipped | | | | | |`;
    const per = perConn(r.name)!;
    figures[`idle.${key(r.name)}.rss_kib_per_connection`] = per;
    figures[`idle.${key(r.name)}.rss_mib_total`] = x.after.rssBytes / 2 ** 20;
    figures[`idle.${key(r.name)}.idle_cpu_percent`] = x.idleCpuPercent;
    return `| ${r.name} | ${fmt(x.connections)} | ${fmt(x.before.rssBytes / 2 ** 20, 1)} | ${fmt(x.after.rssBytes / 2 ** 20, 1)} | **${fmt(per, 1)}** | ${fmt(x.idleCpuPercent, 1)}% | ${x.after.processes.length} |`;
  });
  const tls = runs.find((r) => r.result !== undefined)?.result?.tls ?? '';
  // What Node's own TLS keeps per connection, on this machine, pinned like the servers.
  const floor = await measureNodeTlsFloor(k, pinning(options).server).catch(() => Number.NaN);
  figures['idle.node_tls_floor_kib_per_connection'] = floor;
  const sbPer = perConn(SB);
  const markdown = [
    header(runs, pinNote),
    `${fmt(k)} clients each log in (STARTTLS, SCRAM-SHA-1, bind, initial presence, roster get) and stay idle; ` +
      `RSS of the server's processes is read from /proc before the logins and 2 s after the last (${tls}); ` +
      "idle CPU is the server's CPU over the next 3 s, in % of one core.",
    '',
    '| server | connections | RSS before (MiB) | RSS after (MiB) | RSS per idle connection (KiB) | idle CPU | processes |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    ratioLines(runs, 'RSS per idle connection', perConn, figures, 'idle.rss_kib_per_connection'),
    '',
    `Floor: a bare Node.js TLS server (STARTTLS-style upgrade of the accepted socket, one exchange, no XMPP) ` +
      `holds **${fmt(floor, 1)} KiB** per idle connection in the same conditions` +
      (sbPer === undefined
        ? '.'
        : `; Switchboard's XMPP session adds ${fmt(sbPer - floor, 1)} KiB on top of it.`),
    '',
    'One run per server: RSS includes allocator slack and GC timing, so differences under ~20% are noise.',
  ].join('\n');
  return { title: `Idle connections (${fmt(k)} authenticated TLS sessions)`, markdown, figures };
}

// ---------------------------------------------------------------- (b) login storm

interface LoginRound {
  readonly loginsPerSecond: number;
  readonly cpuMsPerLogin: number;
  readonly p50: number;
  readonly p99: number;
  readonly generatorCpu: number;
  readonly failed: number;
  /** What the client negotiated: e.g. `TLSv1.3 TLS_AES_256_GCM_SHA384`, or `no TLS`. */
  readonly tls: string;
}

interface LoginVariant {
  /** true: STARTTLS, servers require it; false: plain TCP, servers started with SASL allowed without TLS. */
  readonly tls: boolean;
  readonly runs: PeerRun<LoginRound[]>[];
  readonly pinNote: string;
}

/** Warm-up round, then `rounds` measured rounds of `m` logins against one running peer. */
async function loginRounds(
  peer: RunningPeer,
  gen: Generator,
  m: number,
  concurrency: number,
  rounds: number,
  tls: boolean,
): Promise<LoginRound[]> {
  const out: LoginRound[] = [];
  // Round 0 warms the client's SCRAM SaltedPassword cache and the server; not reported.
  for (let round = 0; round <= rounds; round++) {
    const before = sampleTree(peer.pids);
    const r = await gen.call({
      op: 'login',
      ...entryPoints(peer),
      users: users(m),
      password: PASSWORD,
      concurrency,
      ...(tls ? {} : { tls: false }),
    });
    const after = sampleTree(peer.pids);
    await gen.call({ op: 'close-all' });
    if (r.ok === 0) throw new Error(`no login succeeded: ${r.errors.join('; ')}`);
    if (round > 0) {
      out.push({
        loginsPerSecond: r.ok / r.wallSeconds,
        cpuMsPerLogin: ((after.cpuSeconds - before.cpuSeconds) * 1000) / r.ok,
        p50: r.loginMsP50,
        p99: r.loginMsP99,
        generatorCpu: r.cpuSeconds / r.wallSeconds,
        failed: r.failed,
        tls: r.tls,
      });
    }
    await sleep(1000);
  }
  return out;
}

/**
 * (b) M users log in as fast as the server lets them, `concurrency` logins in flight: through
 * STARTTLS on servers that require it, then on plain TCP on servers restarted with SASL allowed
 * without TLS (issue: "SCRAM; with and without TLS").
 */
export async function runLoginBench(options: LoginOptions = {}): Promise<BenchReport> {
  const m = options.users ?? 1000;
  const concurrency = options.concurrency ?? 50;
  const rounds = options.rounds ?? 2;
  const variants: LoginVariant[] = [];
  for (const tls of options.tls ?? [true, false]) {
    console.error(`  login storm ${tls ? 'through STARTTLS' : 'without TLS'}:`);
    const { runs, pinNote } = await withPeers<LoginRound[]>(
      options,
      m,
      (peer, gen) => loginRounds(peer, gen, m, concurrency, rounds, tls),
      0,
      !tls,
    );
    variants.push({ tls, runs, pinNote });
  }
  // The TLS variant keeps the keys it always had; the other one is under `no_tls`.
  const prefix = (tls: boolean): string => (tls ? '' : 'no_tls.');
  const figures: Record<string, number> = {};
  const med = (
    variant: LoginVariant | undefined,
    name: string,
    f: (r: LoginRound) => number,
  ): number | undefined => {
    const r = variant?.runs.find((x) => x.name === name)?.result;
    return r === undefined ? undefined : median(r.map(f));
  };
  const names = [...new Set(variants.flatMap((v) => v.runs.map((r) => r.name)))];
  const rows: string[] = [];
  for (const name of names) {
    for (const v of variants) {
      const r = v.runs.find((x) => x.name === name);
      const label = v.tls ? 'STARTTLS' : 'no TLS';
      const x = r?.result;
      if (x === undefined) {
        rows.push(`| ${name} | ${label} | skipped | | | | | |`);
        continue;
      }
      const k = `login.${key(name)}.${prefix(v.tls)}`;
      figures[`${k}logins_per_second`] = median(x.map((y) => y.loginsPerSecond));
      figures[`${k}cpu_ms_per_login`] = median(x.map((y) => y.cpuMsPerLogin));
      rows.push(
        `| ${name} | ${label} | **${range(x.map((y) => y.loginsPerSecond))}** | ` +
          `${range(
            x.map((y) => y.cpuMsPerLogin),
            2,
          )} | ${range(
            x.map((y) => y.p50),
            1,
          )} | ${range(
            x.map((y) => y.p99),
            1,
          )} | ${range(x.map((y) => y.generatorCpu * 100))}% | ${x.reduce((a, y) => a + y.failed, 0)} |`,
      );
    }
  }
  const ratioBlock: string[] = [];
  for (const v of variants) {
    const p = prefix(v.tls);
    const when = v.tls ? '' : ' without TLS';
    ratioBlock.push(
      ratioLines(
        v.runs,
        `Logins/s${when}`,
        (n) => med(v, n, (r) => r.loginsPerSecond),
        figures,
        `login.${p}logins_per_second`,
      ),
      ratioLines(
        v.runs,
        `CPU per login${when}`,
        (n) => med(v, n, (r) => r.cpuMsPerLogin),
        figures,
        `login.${p}cpu_ms_per_login`,
      ),
    );
  }
  // What TLS costs each server: the same login with and without it, same server, same run.
  const withTls = variants.find((v) => v.tls);
  const without = variants.find((v) => !v.tls);
  if (withTls !== undefined && without !== undefined) {
    const cost: string[] = [];
    for (const name of names) {
      const cpuA = med(withTls, name, (r) => r.cpuMsPerLogin);
      const cpuB = med(without, name, (r) => r.cpuMsPerLogin);
      const rateA = med(withTls, name, (r) => r.loginsPerSecond);
      const rateB = med(without, name, (r) => r.loginsPerSecond);
      if (cpuA === undefined || cpuB === undefined || rateA === undefined || rateB === undefined) continue;
      if (cpuB !== 0) figures[`login.${key(name)}.tls_vs_no_tls.cpu_ms_per_login`] = cpuA / cpuB;
      if (rateB !== 0) figures[`login.${key(name)}.tls_vs_no_tls.logins_per_second`] = rateA / rateB;
      cost.push(
        `${name} ${ratio(cpuA, cpuB)} CPU per login (${cpuA >= cpuB ? '+' : '−'}${fmt(Math.abs(cpuA - cpuB), 2)} ms), ${ratio(rateA, rateB)} logins/s`,
      );
    }
    if (cost.length > 0) ratioBlock.push(`STARTTLS / no TLS on the same server: ${cost.join('; ')}.`);
  }
  const first = variants[0];
  const tlsSeen = withTls?.runs.flatMap((r) => r.result ?? []).find((x) => x.tls !== '')?.tls;
  const otherSkips = variants
    .slice(1)
    .flatMap((v) =>
      v.runs
        .filter((r) => r.skipped !== undefined)
        .map((r) => `- ${r.name} ${v.tls ? 'through STARTTLS' : 'without TLS'}: **${r.skipped ?? ''}**`),
    );
  const markdown = [
    first === undefined ? '' : header(first.runs, first.pinNote),
    ...(otherSkips.length > 0 ? [...otherSkips, ''] : []),
    `${fmt(m)} accounts log in with ${concurrency} logins in flight (TCP connect, STARTTLS, TLS handshake` +
      `${tlsSeen === undefined ? '' : ` (${tlsSeen})`}, SCRAM-SHA-1, bind, initial presence, roster get), then ` +
      `all disconnect; one warm-up round, then ${rounds} measured rounds: median (min–max).` +
      (without === undefined
        ? ''
        : ' _No TLS_: the same sequence without STARTTLS and the handshake, SCRAM-SHA-1 on plain TCP, each ' +
          'server restarted with STARTTLS offered but not required (Switchboard `edge.requireTls: false`, ' +
          'ejabberd `starttls_required: false`, Prosody `c2s_require_encryption = false`; SCRAM needs no ' +
          "`allow_unencrypted_plain_auth`, which only concerns PLAIN). The STARTTLS rows' figures keep their keys."),
    '',
    '| server | TLS | logins/s | server CPU-ms per login | login p50 (ms) | login p99 (ms) | generator CPU | failed |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    ...ratioBlock.filter((l) => l !== ''),
    '',
    'The client caches SaltedPassword (RFC 5802 §5.1), so PBKDF2 runs on neither side during measured rounds; ' +
      'a generator near 100% means the figure is bounded by the client, not the server.',
  ].join('\n');
  const both = variants.length > 1 ? ', with and without TLS' : '';
  return { title: `Login storm (${fmt(m)} users${both})`, markdown, figures };
}

// ---------------------------------------------------------------- (c) 1:1 messaging

/** A peer's name as the report shows it, for a name given in any case. */
function displayName(runs: readonly PeerRun<unknown>[], name: string): string {
  return (
    runs.find((r) => key(r.name) === key(name))?.name ??
    ALL_PEERS.find((p) => key(p.name) === key(name))?.name ??
    name
  );
}

interface RatePoint {
  readonly target: number;
  readonly repeats: {
    readonly m: MessagingResult;
    readonly serverCpuSeconds: number;
    readonly serverRssBytes: number;
  }[];
  readonly saturated: boolean;
}

const cpuPer1k = (r: RatePoint['repeats'][number]): number =>
  r.m.received === 0 ? Number.NaN : (r.serverCpuSeconds / r.m.received) * 1000;

/** (c) N online users send each other chat messages at a swept aggregate rate. */
export async function runMessagingBench(options: MessagingOptions = {}): Promise<BenchReport> {
  const n = options.users ?? 500;
  const rates = options.rates ?? [2000, 5000, 10_000, 15_000, 20_000, 30_000, 40_000];
  const repeats = options.repeats ?? 2;
  const durationMs = options.durationMs ?? 3000;
  const warmupMs = options.warmupMs ?? 700;
  const bodyBytes = options.bodyBytes ?? 100;
  const settleMs = options.settleMs ?? 3000;
  const { runs, pinNote } = await withPeers<RatePoint[]>(options, n, async (peer, gen) => {
    const login = await gen.call({
      op: 'login',
      ...entryPoints(peer),
      users: users(n),
      password: PASSWORD,
      concurrency: 50,
    });
    if (login.failed > 0) throw new Error(`${login.failed} logins failed: ${login.errors.join('; ')}`);
    await sleep(1000);
    // One unmeasured run at the first rate, for every server alike: what the logins left behind
    // (garbage to collect, message-path code not yet compiled) is dealt with before the first window.
    if (settleMs > 0)
      await gen.call(
        { op: 'messaging', rate: rates[0]!, warmupMs: 0, durationMs: settleMs, drainMs: 1000, bodyBytes },
        () => undefined,
      );
    const points: RatePoint[] = [];
    for (const rate of rates) {
      const reps: RatePoint['repeats'] = [];
      for (let i = 0; i < repeats; i++) {
        const samples: Partial<Record<WindowEvent, TreeSample>> = {};
        const m = await gen.call(
          { op: 'messaging', rate, warmupMs, durationMs, drainMs: 3000, bodyBytes },
          (e) => {
            samples[e] = sampleTree(peer.pids);
          },
        );
        const { 'window-start': b, 'window-end': a, drained: d } = samples;
        if (b === undefined || a === undefined || d === undefined)
          throw new Error('measurement window was not reported');
        reps.push({ m, serverCpuSeconds: d.cpuSeconds - b.cpuSeconds, serverRssBytes: a.rssBytes });
        console.error(
          `  ${peer.name} @${rate}/s: sent ${fmt(m.sendRate)}/s p50 ${fmt(m.p50Ms, 2)} p99 ${fmt(m.p99Ms, 2)} ms, ` +
            `lost ${m.lost}, server ${fmt(cpuPer1k(reps.at(-1)!), 3)} CPU-s/1k, generator ${fmt((m.generator.cpuSeconds / m.generator.wallSeconds) * 100)}%`,
        );
        await sleep(300);
      }
      const saturated = reps.some(
        (r) => r.m.sendRate < rate * 0.9 || r.m.lost > r.m.sent * 0.005 || !(r.m.p99Ms < 1000),
      );
      points.push({ target: rate, repeats: reps, saturated });
      if (saturated) break;
    }
    return points;
  });

  const figures: Record<string, number> = {};
  const point = (name: string, rate: number): RatePoint | undefined =>
    runs.find((r) => r.name === name)?.result?.find((p) => p.target === rate);
  const lines: string[] = [header(runs, pinNote)];
  lines.push(
    `${fmt(n)} users online, each message to another user's bare JID (type chat, ${bodyBytes}-byte body carrying ` +
      `the send time). After the logins, ${settleMs / 1000} s of unmeasured traffic at the first rate; each point: ${warmupMs} ms warm-up, then ${durationMs / 1000} s measured, ${repeats} repeats; ` +
      'median (min–max). Latency is send → receipt at the recipient, through TLS both ways. CPU counts every process ' +
      'of the server (utime+stime, children included) from the start of the window until the last window message ' +
      'arrived, per message received; "sat." marks the point where the server ' +
      'fell behind (achieved < 90% of offered, loss > 0.5% or p99 ≥ 1 s), which ends the sweep.',
    '',
    '| server | offered msgs/s | achieved msgs/s | p50 (ms) | p99 (ms) | max (ms) | lost | CPU-s per 1,000 msgs | server RSS (MiB) | generator CPU |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const r of runs) {
    if (r.result === undefined) {
      lines.push(`| ${r.name} | skipped | | | | | | | | |`);
      continue;
    }
    for (const p of r.result) {
      const reps = p.repeats;
      const k = `messaging.${key(r.name)}.${p.target}`;
      figures[`${k}.achieved`] = median(reps.map((x) => x.m.sendRate));
      figures[`${k}.p50_ms`] = median(reps.map((x) => x.m.p50Ms));
      figures[`${k}.p99_ms`] = median(reps.map((x) => x.m.p99Ms));
      figures[`${k}.cpu_s_per_1k`] = median(reps.map(cpuPer1k));
      lines.push(
        `| ${r.name} | ${fmt(p.target)}${p.saturated ? ' (sat.)' : ''} | ${range(reps.map((x) => x.m.sendRate))} | ` +
          `${range(
            reps.map((x) => x.m.p50Ms),
            2,
          )} | ${range(
            reps.map((x) => x.m.p99Ms),
            2,
          )} | ${range(
            reps.map((x) => x.m.maxMs),
            1,
          )} | ` +
          `${reps.reduce((a, x) => a + x.m.lost, 0)} | **${range(reps.map(cpuPer1k), 3)}** | ` +
          `${fmt(median(reps.map((x) => x.serverRssBytes / 2 ** 20)), 0)} | ` +
          `${range(reps.map((x) => (x.m.generator.cpuSeconds / x.m.generator.wallSeconds) * 100))}% |`,
      );
    }
    const sustained = r.result.filter((p) => !p.saturated).at(-1)?.target;
    if (sustained !== undefined) figures[`messaging.${key(r.name)}.max_sustained_rate`] = sustained;
  }
  const pairs: readonly (readonly [string, string])[] = (
    options.ratios ?? [
      [SB, 'ejabberd'],
      [SB, 'Prosody'],
    ]
  ).map(([a, b]) => [displayName(runs, a), displayName(runs, b)] as const);
  // Switchboard-vs-peer figures keep their historical keys; any other pair is named after both.
  const ratioKey = (rate: number, metric: string, a: string, b: string): string =>
    a === SB
      ? `messaging.${rate}.${metric}.ratio_vs_${key(b)}`
      : `messaging.${rate}.${metric}.${key(a)}_vs_${key(b)}`;
  const allSb = pairs.every(([a]) => a === SB);
  lines.push(
    '',
    `**Ratios at the same offered rate (${allSb ? 'Switchboard / peer' : 'first / second'}):**`,
    '',
  );
  const metrics = ['cpu', 'p99'] as const;
  const metricName = { cpu: 'CPU per msg', p99: 'p99' };
  lines.push(
    `| offered msgs/s | ${metrics
      .flatMap((m) => pairs.map(([a, b]) => `${metricName[m]} ${allSb ? `vs ${b}` : `${a} / ${b}`}`))
      .join(' | ')} |`,
  );
  lines.push(`|---:|${metrics.flatMap(() => pairs.map(() => '---:')).join('|')}|`);
  for (const rate of rates) {
    if (!pairs.some(([a]) => point(a, rate) !== undefined)) continue;
    const sat = (name: string): string => (point(name, rate)?.saturated === true ? ' (sat.)' : '');
    const cells = [fmt(rate)];
    for (const metric of metrics) {
      for (const [an, bn] of pairs) {
        const v = (p: RatePoint | undefined): number | undefined =>
          p === undefined
            ? undefined
            : median(p.repeats.map((x) => (metric === 'cpu' ? cpuPer1k(x) : x.m.p99Ms)));
        const a = v(point(an, rate));
        const b = v(point(bn, rate));
        if (a !== undefined && b !== undefined && b !== 0) figures[ratioKey(rate, metric, an, bn)] = a / b;
        const marks = [...new Set([sat(an), sat(bn)])].join('');
        cells.push(ratio(a, b) + marks);
      }
    }
    lines.push(`| ${cells.join(' | ')} |`);
  }
  const maxLine = runs
    .filter((r) => r.result !== undefined)
    .map((r) => `${r.name} ${fmt(figures[`messaging.${key(r.name)}.max_sustained_rate`] ?? Number.NaN)}`)
    .join(', ');
  lines.push(
    '',
    `Highest offered rate sustained: ${maxLine} msgs/s. Ratios below 1× favour ` +
      `${allSb ? 'Switchboard' : 'the first of the pair'}; at a saturated (sat.) point latency ratios compare ` +
      'queues, not servers.',
  );
  if (options.note !== undefined) lines.push('', options.note);
  return {
    title: options.title ?? `1:1 messaging (${fmt(n)} online users, rate sweep)`,
    markdown: lines.join('\n'),
    figures,
  };
}

// ---------------------------------------------------------------- (d) presence broadcast

export interface PresenceOptions extends CommonOptions {
  readonly users?: number;
  /** Roster size of every user (mutual subscriptions). */
  readonly contacts?: number;
  /** Presence updates per second offered, in order; the sweep stops after the first saturated one. */
  readonly rates?: readonly number[];
  readonly durationMs?: number;
}

/**
 * (d) N online users with C-contact rosters of mutual subscriptions (built with ordinary RFC 6121
 * handshakes before measuring) change presence at a swept rate; each update reaches C contacts.
 */
export async function runPresenceBench(options: PresenceOptions = {}): Promise<BenchReport> {
  const n = options.users ?? 200;
  const contacts = options.contacts ?? 50;
  const rates = options.rates ?? [50, 100, 200, 400, 800];
  const durationMs = options.durationMs ?? 3000;
  const warmupMs = 500;
  type Point = { rate: number; m: MessagingResult; cpu: number; saturated: boolean };
  const { runs, pinNote } = await withPeers<{ points: Point[] }>(
    options,
    n,
    async (peer, gen) => {
      const login = await gen.call({
        op: 'login',
        ...entryPoints(peer),
        users: users(n),
        password: PASSWORD,
        concurrency: 50,
      });
      if (login.failed > 0) throw new Error(`${login.failed} logins failed: ${login.errors.join('; ')}`);
      // Initial presence went to every contact and probes came back: let that settle first.
      await sleep(2000);
      const points: Point[] = [];
      for (const rate of rates) {
        const samples: Partial<Record<WindowEvent, TreeSample>> = {};
        const m = await gen.call(
          { op: 'presence', rate, contacts, warmupMs, durationMs, drainMs: 3000 },
          (e) => {
            samples[e] = sampleTree(peer.pids);
          },
        );
        const { 'window-start': b, drained: d } = samples;
        if (b === undefined || d === undefined) throw new Error('measurement window was not reported');
        const cpu = m.received === 0 ? Number.NaN : ((d.cpuSeconds - b.cpuSeconds) / m.received) * 1000;
        const saturated = m.sendRate < rate * contacts * 0.9 || m.lost > m.sent * 0.005 || !(m.p99Ms < 1000);
        console.error(
          `  ${peer.name} @${rate} updates/s: ${fmt(m.sendRate)} deliveries/s p99 ${fmt(m.p99Ms, 2)} ms lost ${m.lost} ` +
            `${fmt(cpu, 3)} CPU-s/1k deliveries`,
        );
        points.push({ rate, m, cpu, saturated });
        if (saturated) break;
        await sleep(300);
      }
      return { points };
    },
    contacts,
  );
  const figures: Record<string, number> = {};
  const lines = [
    header(runs, pinNote),
    `${fmt(n)} users online, each with ${contacts} contacts in a ring of mutual ('both') subscriptions, written ` +
      "into each server's own roster storage before it starts; all log in (initial presence, probes). Users then change presence (show + status " +
      `carrying the send time) at the offered rate for ${durationMs / 1000} s; every update is broadcast to the ` +
      `${contacts} contacts. Latency is send → receipt at each contact; CPU is every server process's CPU per ` +
      '1,000 presence deliveries; "sat." as in the messaging sweep.',
    '',
    '| server | updates/s offered | deliveries/s achieved | p50 (ms) | p99 (ms) | max (ms) | lost | CPU-s per 1,000 deliveries |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of runs) {
    if (r.result === undefined) {
      lines.push(`| ${r.name} | skipped | | | | | | |`);
      continue;
    }
    for (const p of r.result.points) {
      const k = `presence.${key(r.name)}.${p.rate}`;
      figures[`${k}.achieved`] = p.m.sendRate;
      figures[`${k}.p99_ms`] = p.m.p99Ms;
      figures[`${k}.cpu_s_per_1k`] = p.cpu;
      lines.push(
        `| ${r.name} | ${fmt(p.rate)}${p.saturated ? ' (sat.)' : ''} | ${fmt(p.m.sendRate)} | ${fmt(p.m.p50Ms, 2)} | ` +
          `${fmt(p.m.p99Ms, 2)} | ${fmt(p.m.maxMs, 1)} | ${p.m.lost} | **${fmt(p.cpu, 3)}** |`,
      );
    }
  }
  const cpuAt = (name: string, rate: number): number | undefined =>
    runs.find((r) => r.name === name)?.result?.points.find((p) => p.rate === rate && !p.saturated)?.cpu;
  const ratioRows: string[] = [];
  for (const rate of rates) {
    const sb = cpuAt(SB, rate);
    if (sb === undefined) continue;
    const cells = ['ejabberd', 'Prosody'].map((peer) => {
      const v = cpuAt(peer, rate);
      if (v !== undefined && v !== 0) figures[`presence.${rate}.cpu.ratio_vs_${key(peer)}`] = sb / v;
      return ratio(sb, v);
    });
    ratioRows.push(`| ${fmt(rate)} | ${cells.join(' | ')} |`);
  }
  if (ratioRows.length > 0) {
    lines.push(
      '',
      '| updates/s | CPU per delivery vs ejabberd | vs Prosody |',
      '|---:|---:|---:|',
      ...ratioRows,
    );
  }
  return {
    title: `Presence broadcast (${fmt(n)} users, ${contacts}-contact rosters)`,
    markdown: lines.join('\n'),
    figures,
  };
}

// ---------------------------------------------------------------- (e) reconnect storm (XEP-0198)

export interface ReconnectStormOptions {
  /** Clients with resumable sessions on the edge that is killed (default 1,000). */
  readonly clients?: number;
  /** Logins in flight at once before the kill (default 50); the resumes after it all go at once. */
  readonly concurrency?: number;
  /** The sender sends one message to every client per round, every this many ms (default 250). */
  readonly roundIntervalMs?: number;
  /** Rounds go on being sent this long after every client has resumed (default 1,000 ms). */
  readonly tailMs?: number;
  /** Rounds sent before the kill, unacked on the wire or in the edge when it dies (default 500 ms). */
  readonly preKillMs?: number;
  /** The routers' `cluster.edgeTimeoutMs` (default 30 s: see the note in the report). */
  readonly edgeTimeoutMs?: number;
  readonly pin?: boolean;
}

/** Where losses and duplicates fell: per round, with the phase it was sent in. */
function byRound(storm: StormResult): string {
  const parts: string[] = [];
  for (let k = 0; k < storm.rounds; k++) {
    const lost = storm.lostByRound[k] ?? 0;
    const dup = storm.duplicatesByRound[k] ?? 0;
    if (lost + dup === 0) continue;
    const phase =
      k < storm.roundsBeforeKill
        ? 'before the kill'
        : k < storm.roundsBeforeKill + storm.roundsDuringOutage
          ? 'during the outage'
          : 'after all resumed';
    parts.push(`round ${k} (${phase}): ${lost} lost, ${dup} duplicates`);
  }
  return parts.join('; ');
}

/** Nearest-rank percentile of an ascending array (generator.ts has the same; importing it would run its IPC loop here). */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * (e) A cluster edge holding `clients` resumable sessions is SIGKILLed; every client reconnects
 * to the other edge at once and resumes (XEP-0198 §5) while a sender on that edge keeps writing
 * to all of them. Switchboard only: see the note in the report.
 */
export async function runReconnectStormBench(options: ReconnectStormOptions = {}): Promise<BenchReport> {
  const n = options.clients ?? 1000;
  const concurrency = options.concurrency ?? 50;
  const roundIntervalMs = options.roundIntervalMs ?? 250;
  const tailMs = options.tailMs ?? 1000;
  const preKillMs = options.preKillMs ?? 500;
  const edgeTimeoutMs = options.edgeTimeoutMs ?? 30_000;
  const pin = pinning(options);
  const title = `Reconnect storm (${fmt(n)} resumable sessions, one edge killed)`;
  const accounts = users(n + 1);
  const senderName = accounts[n]!;
  const gen = Generator.start(pin.generator);
  let peer: RunningCluster | { readonly skipped: string } | undefined;
  try {
    console.error(`  Switchboard-cluster-2e: starting with ${n + 1} accounts…`);
    peer = await startSwitchboardCluster(
      'Switchboard-cluster-2e',
      1,
      { edges: 2, edgeTimeoutMs },
      { users: accounts, password: PASSWORD, ...(pin.server === undefined ? {} : { cpu: pin.server }) },
    );
    if ('skipped' in peer) {
      return { title, markdown: `- Switchboard cluster: **skipped** (${peer.skipped})`, figures: {} };
    }
    const [edgeA, edgeB] = peer.edges;
    if (edgeA === undefined || edgeB === undefined) throw new Error('the cluster has fewer than 2 edges');
    const login = await gen.call({
      op: 'login',
      target: edgeA.target,
      users: accounts.slice(0, n),
      password: PASSWORD,
      concurrency,
      streamManagement: true,
    });
    if (login.failed > 0) throw new Error(`${login.failed} logins failed: ${login.errors.join('; ')}`);
    const prepared = await gen.call({
      op: 'storm-prepare',
      sender: { target: edgeB.target, username: senderName, password: PASSWORD },
      timeoutMs: 60_000,
    });
    const survivors = peer.pids.filter((pid) => pid !== edgeA.pid);
    await gen.call({
      op: 'storm-arm',
      resumeTarget: edgeB.target,
      password: PASSWORD,
      roundIntervalMs,
      resumeTimeoutMs: 60_000,
      attempts: 3,
    });
    await sleep(preKillMs);
    const before = sampleTree(survivors);
    const killedAt = performance.timeOrigin + performance.now();
    await peer.killEdge(0);
    let atResumed: TreeSample | undefined;
    const storm = await gen.call(
      {
        op: 'storm-finish',
        killedAt,
        tailMs,
        // Resumption works until the janitor declares the edge dead; then the sessions are ended.
        resumeWaitMs: edgeTimeoutMs + 10_000,
        // Deliveries queued for the dead edge are re-routed by the janitor (after edgeTimeoutMs).
        deliveryTimeoutMs: edgeTimeoutMs + 30_000,
      },
      (e) => {
        if (e === 'window-end') atResumed = sampleTree(survivors);
      },
    );
    const after = sampleTree(survivors);
    await gen.call({ op: 'close-all' });
    const resumedSample = atResumed ?? after;
    const stormCpu = resumedSample.cpuSeconds - before.cpuSeconds;
    const resume = storm.resumeMs;
    const allResumedMs = resume.length === 0 ? Number.NaN : resume[resume.length - 1]!;
    const figures: Record<string, number> = {
      'reconnect.clients': n,
      'reconnect.resumed': storm.resumed,
      'reconnect.failed': storm.failed,
      'reconnect.unreachable': storm.unreachable,
      'reconnect.resume_ms_p50': percentile(resume, 50),
      'reconnect.resume_ms_p99': percentile(resume, 99),
      'reconnect.resume_ms_max': allResumedMs,
      'reconnect.messages': storm.messages,
      'reconnect.lost': storm.lost,
      'reconnect.duplicates': storm.duplicates,
      'reconnect.dropped_after_resume': storm.droppedAfterResume,
      'reconnect.all_delivered_ms': storm.allDeliveredMs,
      'reconnect.cluster_cpu_s_storm': stormCpu,
      'reconnect.cluster_cpu_ms_per_resume':
        storm.resumed === 0 ? Number.NaN : (stormCpu * 1000) / storm.resumed,
      'reconnect.cluster_rss_mib_after': resumedSample.rssBytes / 2 ** 20,
    };
    const markdown = [
      `- ${peer.version}: ${peer.notes}`,
      `- ${pin.note}`,
      '',
      `${fmt(n)} clients log in on edge A (${concurrency} in flight; STARTTLS, SCRAM-SHA-1, bind, presence, ` +
        "roster get) and enable resumable stream management (XEP-0198 `<enable resume='true'/>`). A sender " +
        'on edge B sends every client one message (round 0), which each client receives and acks ' +
        "(`<a h/>`, then `<r/>` until the server's `<a/>`). Then the sender sends a numbered round (one chat " +
        `message to each client's bare JID) every ${roundIntervalMs} ms; ${preKillMs} ms later edge A is ` +
        'SIGKILLed. Each client, as soon as its connection drops, reconnects to edge B (all at once, no ' +
        'backoff), authenticates and sends `<resume previd h/>` with its own count. Rounds go on until every ' +
        `client has resumed, plus ${tailMs} ms; then the bench waits for every round to reach every client.`,
      '',
      '| clients | resumed | `<failed/>` | unreachable (retries) | resume p50 (ms) | p99 (ms) | all resumed after (ms) | noticed the drop p50/max (ms) |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|',
      `| ${fmt(n)} | ${fmt(storm.resumed)} | ${fmt(storm.failed)} | ${fmt(storm.unreachable)} (${fmt(storm.retries)}) | ` +
        `${fmt(percentile(resume, 50))} | ${fmt(percentile(resume, 99))} | **${fmt(allResumedMs)}** | ` +
        `${fmt(storm.noticedMsP50)}/${fmt(storm.noticedMsMax)} |`,
      '',
      '| messages sent | rounds (during outage) | lost | duplicates (of acked round 0) | all delivered after (s) | error stanzas | resumed streams dropped (stream errors) |',
      '|---:|---:|---:|---:|---:|---:|---:|',
      `| ${fmt(storm.messages)} | ${storm.rounds} (${storm.roundsDuringOutage}) | **${fmt(storm.lost)}** | ` +
        `${fmt(storm.duplicates)} (${fmt(storm.resentAfterAck)}) | ${fmt(storm.allDeliveredMs / 1000, 1)}` +
        `${storm.deliveredInTime ? '' : ' (timed out)'} | ${fmt(storm.errorStanzas)} | ` +
        `${fmt(storm.droppedAfterResume)} (${fmt(storm.streamErrors)}) |`,
      '',
      '| cluster CPU-s, kill → all resumed | CPU-ms per resume | RSS before kill (MiB) | RSS all resumed (MiB) | generator CPU (arm → all resumed) |',
      '|---:|---:|---:|---:|---:|',
      `| ${fmt(stormCpu, 2)} | ${fmt(figures['reconnect.cluster_cpu_ms_per_resume']!, 2)} | ` +
        `${fmt(before.rssBytes / 2 ** 20, 1)} | ${fmt(resumedSample.rssBytes / 2 ** 20, 1)} | ` +
        `${fmt((storm.generator.cpuSeconds / storm.generator.wallSeconds) * 100)}% |`,
      '',
      '_Resume_ times run from the SIGKILL to `<resumed/>` at the client, which includes noticing the drop, ' +
        'TCP connect, STARTTLS, TLS and SCRAM on edge B. _Lost_ counts (client, round) pairs never received; ' +
        '_duplicates_ count extra copies (a correct `h` on both sides means none). CPU and RSS are those of ' +
        'the surviving processes (edge B, router, redis-server), read from /proc. ' +
        `Round 0 took ${fmt(prepared.round0Ms)} ms to reach and be acked by all.`,
      '',
      'Switchboard only: resuming a session on a *different* server process needs the XEP-0198 state ' +
        "outside the process that died (here in Redis); ejabberd's and Prosody's resumption state lives in " +
        'the memory of the node that held the session (Prosody has mod_smacks on one process; ejabberd ' +
        'clusters keep it node-local too), so there is no like-for-like peer and no ratio. ' +
        `The router's edge timeout is ${fmt(edgeTimeoutMs / 1000)} s here (\`cluster.edgeTimeoutMs\`; ` +
        'default 10 s, the compose file uses 5 s): resumption works until the janitor declares the dead edge ' +
        'dead, so with 1,000 clients all reconnecting at once a short timeout would measure the janitor ' +
        'racing the storm. Messages routed to the dead edge before its sessions resumed elsewhere wait in ' +
        'its delivery stream until the janitor re-routes them, so _all delivered after_ follows the edge timeout.',
      ...(storm.lost + storm.duplicates > 0 ? ['', `By round: ${byRound(storm)}.`] : []),
      ...(storm.errors.length > 0
        ? ['', `Errors (first ${storm.errors.length}): ${storm.errors.join('; ')}`]
        : []),
    ].join('\n');
    return { title, markdown, figures };
  } finally {
    if (peer !== undefined && !('skipped' in peer)) await peer.stop();
    await gen.stop();
  }
}

// ---------------------------------------------------------------- standalone entry

const SCENARIOS: Record<string, () => Promise<BenchReport>> = {
  idle: () => runIdleBench(),
  login: () => runLoginBench(),
  messaging: () => runMessagingBench(),
  presence: () => runPresenceBench(),
  reconnect: () => runReconnectStormBench(),
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const names = wanted.length > 0 ? wanted : Object.keys(SCENARIOS);
  for (const name of names) {
    const run = SCENARIOS[name];
    if (run === undefined)
      throw new Error(`unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(', ')}`);
    console.error(`running ${name}…`);
    const r = await run();
    console.log(`\n## ${r.title}\n\n${r.markdown}\n`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
