/**
 * Side-by-side XMPP load scenarios: Switchboard (embedded), ejabberd and Prosody
 * measured in the same run on the same machine with the same client.
 *
 * Run alone: node --import tsx bench/load/scenarios.ts [idle|login|messaging ...]
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Generator } from './driver.js';
import type { MessagingResult, WindowEvent } from './generator.js';
import { sampleTree, type TreeSample } from './proc-stats.js';
import { measureNodeTlsFloor } from './tls-floor.js';
import { ejabberd } from '../peers/ejabberd.js';
import { prosody } from '../peers/prosody.js';
import { switchboard } from '../peers/switchboard.js';
import { switchboardCluster } from '../peers/switchboard-cluster.js';
import type { PeerSpec, RunningPeer } from '../peers/peer.js';

export interface BenchReport {
  readonly title: string;
  readonly markdown: string;
  readonly figures: Record<string, number>;
}

export interface CommonOptions {
  /**
   * Peers to run, by name (case-insensitive), run in this order: 'switchboard', 'ejabberd', 'prosody',
   * 'switchboard-cluster' (1 edge + 1 router + Redis), 'switchboard-cluster-2r' (2 routers).
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
}

export interface MessagingOptions extends CommonOptions {
  readonly users?: number;
  /** Aggregate offered rates, msgs/s, in order; the sweep stops after the first saturated one. */
  readonly rates?: readonly number[];
  readonly repeats?: number;
  readonly warmupMs?: number;
  readonly durationMs?: number;
  readonly bodyBytes?: number;
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

/** Starts a fresh generator and peer, runs `body`, stops both. */
async function withPeers<T>(
  options: CommonOptions,
  accounts: number,
  body: (peer: RunningPeer, gen: Generator) => Promise<T>,
  contacts = 0,
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
      target: peer.target,
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
}

/** (b) M users log in as fast as the server lets them, `concurrency` logins in flight. */
export async function runLoginBench(options: LoginOptions = {}): Promise<BenchReport> {
  const m = options.users ?? 1000;
  const concurrency = options.concurrency ?? 50;
  const rounds = options.rounds ?? 2;
  const { runs, pinNote } = await withPeers<LoginRound[]>(options, m, async (peer, gen) => {
    const out: LoginRound[] = [];
    // Round 0 warms the client's SCRAM SaltedPassword cache and the server; not reported.
    for (let round = 0; round <= rounds; round++) {
      const before = sampleTree(peer.pids);
      const r = await gen.call({
        op: 'login',
        target: peer.target,
        users: users(m),
        password: PASSWORD,
        concurrency,
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
        });
      }
      await sleep(1000);
    }
    return out;
  });
  const figures: Record<string, number> = {};
  const med = (name: string, f: (r: LoginRound) => number): number | undefined => {
    const r = runs.find((x) => x.name === name)?.result;
    return r === undefined ? undefined : median(r.map(f));
  };
  const rows = runs.map((r) => {
    const x = r.result;
    if (x === undefined) return `| ${r.name} | skipped | | | | | |`;
    figures[`login.${key(r.name)}.logins_per_second`] = median(x.map((y) => y.loginsPerSecond));
    figures[`login.${key(r.name)}.cpu_ms_per_login`] = median(x.map((y) => y.cpuMsPerLogin));
    return (
      `| ${r.name} | **${range(x.map((y) => y.loginsPerSecond))}** | ${range(
        x.map((y) => y.cpuMsPerLogin),
        2,
      )} | ` +
      `${range(
        x.map((y) => y.p50),
        1,
      )} | ${range(
        x.map((y) => y.p99),
        1,
      )} | ${range(x.map((y) => y.generatorCpu * 100))}% | ${x.reduce((a, y) => a + y.failed, 0)} |`
    );
  });
  const markdown = [
    header(runs, pinNote),
    `${fmt(m)} accounts log in with ${concurrency} logins in flight (TCP connect, STARTTLS, TLS handshake, ` +
      'SCRAM-SHA-1, bind, initial presence, roster get), then all disconnect; one warm-up round, then ' +
      `${rounds} measured rounds: median (min–max).`,
    '',
    '| server | logins/s | server CPU-ms per login | login p50 (ms) | login p99 (ms) | generator CPU | failed |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    ratioLines(runs, 'Logins/s', (n) => med(n, (r) => r.loginsPerSecond), figures, 'login.logins_per_second'),
    ratioLines(
      runs,
      'CPU per login',
      (n) => med(n, (r) => r.cpuMsPerLogin),
      figures,
      'login.cpu_ms_per_login',
    ),
    '',
    'The client caches SaltedPassword (RFC 5802 §5.1), so PBKDF2 runs on neither side during measured rounds; ' +
      'a generator near 100% means the figure is bounded by the client, not the server.',
  ].join('\n');
  return { title: `Login storm (${fmt(m)} users)`, markdown, figures };
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
  const { runs, pinNote } = await withPeers<RatePoint[]>(options, n, async (peer, gen) => {
    const login = await gen.call({
      op: 'login',
      target: peer.target,
      users: users(n),
      password: PASSWORD,
      concurrency: 50,
    });
    if (login.failed > 0) throw new Error(`${login.failed} logins failed: ${login.errors.join('; ')}`);
    await sleep(1000);
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
      `the send time). Each point: ${warmupMs} ms warm-up, then ${durationMs / 1000} s measured, ${repeats} repeats; ` +
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
        target: peer.target,
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

// ---------------------------------------------------------------- standalone entry

const SCENARIOS: Record<string, () => Promise<BenchReport>> = {
  idle: () => runIdleBench(),
  login: () => runLoginBench(),
  messaging: () => runMessagingBench(),
  presence: () => runPresenceBench(),
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
