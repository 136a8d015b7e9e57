/**
 * The load generator, run in its own process (forked by driver.ts) so that its
 * CPU is never counted as the server's. It holds a pool of logged-in clients
 * and answers requests from the parent over the IPC channel.
 */
import { performance } from 'node:perf_hooks';
import { BenchClient, ResumeFailedError, type Target } from './client.js';

export interface UsersSpec {
  readonly target: Target;
  /** Localparts. */
  readonly users: readonly string[];
  readonly password: string;
  /** Logins in flight at once. */
  readonly concurrency: number;
  /** XEP-0198: enable resumable stream management on every session. */
  readonly streamManagement?: boolean;
  /** false: log in without STARTTLS (see LoginOptions.tls in client.ts). Default true. */
  readonly tls?: boolean;
  /**
   * Several entry points of one server (a cluster's edges): user i (its index in `users`) logs in
   * at `targets[i % targets.length]`; `target` when absent.
   */
  readonly targets?: readonly Target[];
}

/** One account to log in with (the reconnect storm's sender). */
export interface AccountSpec {
  readonly target: Target;
  readonly username: string;
  readonly password: string;
}

export type GeneratorRequest =
  | ({ readonly op: 'register' } & UsersSpec)
  | ({ readonly op: 'login' } & UsersSpec)
  | {
      readonly op: 'messaging';
      /** Aggregate messages per second offered. */
      readonly rate: number;
      readonly warmupMs: number;
      readonly durationMs: number;
      /** How long to wait for messages still in flight after the window. */
      readonly drainMs: number;
      readonly bodyBytes: number;
    }
  | {
      /** Users change their presence at an aggregate rate; every contact receives each update. */
      readonly op: 'presence';
      readonly rate: number;
      readonly contacts: number;
      readonly warmupMs: number;
      readonly durationMs: number;
      readonly drainMs: number;
    }
  | { readonly op: 'close-all' }
  | {
      /**
       * Reconnect storm, step 1: `sender` logs in and sends round 0 (one message to every pooled
       * user); resolves once every user has it and has acked it (XEP-0198 `<a/>`, then `<r/>`).
       */
      readonly op: 'storm-prepare';
      readonly sender: AccountSpec;
      readonly timeoutMs: number;
    }
  | {
      /**
       * Step 2: from now on, a pooled client whose connection drops resumes at once on
       * `resumeTarget`; the sender sends a round every `roundIntervalMs`. Resolves after round 1 is written.
       */
      readonly op: 'storm-arm';
      readonly resumeTarget: Target;
      readonly password: string;
      readonly roundIntervalMs: number;
      readonly resumeTimeoutMs: number;
      /** Attempts per client when the reconnect fails other than by `<failed/>` (refused, timeout). */
      readonly attempts: number;
    }
  | {
      /**
       * Step 3, after the parent killed the edge at `killedAt` (epoch ms): waits until every client
       * resumed or gave up ('window-end' event), keeps sending rounds for `tailMs` more, then waits
       * up to `deliveryTimeoutMs` for every round to reach every client ('drained' event).
       */
      readonly op: 'storm-finish';
      readonly killedAt: number;
      readonly tailMs: number;
      readonly resumeWaitMs: number;
      readonly deliveryTimeoutMs: number;
    };

export interface StormPrepared {
  readonly clients: number;
  readonly senderLoginMs: number;
  /** Round 0 sent → received and acked by all. */
  readonly round0Ms: number;
}

export interface StormResult {
  readonly clients: number;
  readonly resumed: number;
  /** `<failed/>` answers to `<resume/>`. */
  readonly failed: number;
  /** Clients that could not reconnect at all within their attempts. */
  readonly unreachable: number;
  readonly retries: number;
  readonly errors: readonly string[];
  /** Kill → `<resumed/>` per resumed client, ms, sorted. */
  readonly resumeMs: readonly number[];
  /** Kill → the client noticed its connection was gone, ms: p50 and max. */
  readonly noticedMsP50: number;
  readonly noticedMsMax: number;
  /** Rounds sent (round 0 included) and messages (rounds × clients). */
  readonly rounds: number;
  /** Rounds 0…roundsBeforeKill−1 were sent before the kill, the next roundsDuringOutage before all resumed. */
  readonly roundsBeforeKill: number;
  readonly roundsDuringOutage: number;
  readonly lostByRound: readonly number[];
  readonly duplicatesByRound: readonly number[];
  readonly messages: number;
  /** Messages never received (per client and round). */
  readonly lost: number;
  /** Extra copies received beyond the first. */
  readonly duplicates: number;
  /** Messages received by a client again after it had acked them (round 0 resent). */
  readonly resentAfterAck: number;
  /** Kill → the last first receipt of any message, ms. */
  readonly allDeliveredMs: number;
  readonly deliveredInTime: boolean;
  readonly errorStanzas: number;
  /** Stream errors received on resumed connections. */
  readonly streamErrors: number;
  /** Resumed connections the server closed before the end. */
  readonly droppedAfterResume: number;
  /** Generator CPU from arm to all resumed. */
  readonly generator: CpuUse;
}

export interface CpuUse {
  /** CPU seconds the generator used. */
  readonly cpuSeconds: number;
  readonly wallSeconds: number;
}

export interface LoginResult extends CpuUse {
  readonly ok: number;
  readonly failed: number;
  readonly errors: readonly string[];
  readonly tls: string;
  readonly loginMsP50: number;
  readonly loginMsP99: number;
  readonly online: number;
}

export interface MessagingResult {
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  /** Window messages sent per second. */
  readonly sendRate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Generator CPU during the window. */
  readonly generator: CpuUse;
  readonly errors: readonly string[];
}

export type GeneratorMessage =
  | { readonly id: number; readonly result: unknown }
  | { readonly id: number; readonly error: string }
  | { readonly id: number; readonly event: WindowEvent };

/** 'drained': every window message has arrived (or drainMs passed). */
export type WindowEvent = 'window-start' | 'window-end' | 'drained';

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

const pool: BenchClient[] = [];
const poolUsers: string[] = [];
let domain = 'localhost';

function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function loginAll(spec: UsersSpec, registerOnly: boolean): Promise<LoginResult> {
  domain = spec.target.domain;
  const cpu0 = cpuNow();
  const t0 = performance.now();
  const durations: number[] = [];
  const errors: string[] = [];
  let failed = 0;
  let tls = '';
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < spec.users.length) {
      const index = next++;
      const user = spec.users[index]!;
      const target =
        spec.targets === undefined || spec.targets.length === 0
          ? spec.target
          : spec.targets[index % spec.targets.length]!;
      const start = performance.now();
      try {
        const client = await BenchClient.open(target, {
          username: user,
          password: spec.password,
          register: registerOnly,
          registerOnly,
          ...(spec.streamManagement === true ? { streamManagement: true } : {}),
          ...(spec.tls === false ? { tls: false } : {}),
        });
        durations.push(performance.now() - start);
        tls = client.tlsInfo;
        if (registerOnly) await client.close();
        else {
          pool.push(client);
          poolUsers.push(user);
        }
      } catch (err) {
        failed++;
        if (errors.length < 5) errors.push(err instanceof Error ? err.message : String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.concurrency, spec.users.length) }, worker));
  durations.sort((a, b) => a - b);
  return {
    ok: durations.length,
    failed,
    errors,
    tls,
    loginMsP50: percentile(durations, 50),
    loginMsP99: percentile(durations, 99),
    online: pool.length,
    cpuSeconds: cpuNow() - cpu0,
    wallSeconds: (performance.now() - t0) / 1000,
  };
}

/** Latencies of measured stanzas as they arrive, into a buffer sized for the expected count. */
class Latencies {
  received = 0;
  readonly #samples: Float64Array;

  constructor(capacity: number) {
    this.#samples = new Float64Array(capacity);
  }

  add(sentAt: number): void {
    if (this.received < this.#samples.length) this.#samples[this.received] = performance.now() - sentAt;
    this.received++;
  }

  sorted(): Float64Array {
    return this.#samples.subarray(0, Math.min(this.received, this.#samples.length)).sort();
  }
}

interface Paced {
  /** Stanzas sent inside the measured window. */
  readonly windowSent: number;
  /** Generator CPU and wall time of the window. */
  readonly generator: CpuUse;
}

/**
 * Calls `send` at `rate` per second for `warmupMs`, then for the measured window of `durationMs`,
 * reporting 'window-start' and 'window-end' around it.
 */
function pace(
  req: { readonly rate: number; readonly warmupMs: number; readonly durationMs: number },
  send: (seq: number, inWindow: boolean) => void,
  event: (e: WindowEvent) => void,
): Promise<Paced> {
  let sent = 0;
  let inWindow = false;
  let windowSent = 0;
  let cpu0 = 0;
  let wall0 = 0;
  const start = performance.now();
  const windowStart = start + req.warmupMs;
  const windowEnd = windowStart + req.durationMs;
  return new Promise((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      if (!inWindow && now >= windowStart && now < windowEnd) {
        inWindow = true;
        event('window-start');
        cpu0 = cpuNow();
        wall0 = performance.now();
      }
      if (now >= windowEnd) {
        const generator = { cpuSeconds: cpuNow() - cpu0, wallSeconds: (performance.now() - wall0) / 1000 };
        event('window-end');
        resolve({ windowSent, generator });
        return;
      }
      const due = Math.floor(((now - start) * req.rate) / 1000) - sent;
      for (let k = 0; k < due; k++) {
        send(sent, inWindow);
        sent++;
        if (inWindow) windowSent++;
      }
      setTimeout(tick, 1);
    };
    tick();
  });
}

/** Waits for `expected` measured stanzas (at most `drainMs`), reports 'drained', and sums up. */
async function drain(
  latencies: Latencies,
  expected: number,
  paced: Paced,
  drainMs: number,
  event: (e: WindowEvent) => void,
  errors: readonly string[],
): Promise<MessagingResult> {
  const drainUntil = performance.now() + drainMs;
  while (latencies.received < expected && performance.now() < drainUntil) {
    await new Promise((r) => setTimeout(r, 10));
  }
  event('drained');
  const sorted = latencies.sorted();
  for (const client of pool) client.onStanza = () => undefined;
  return {
    sent: expected,
    received: latencies.received,
    lost: expected - latencies.received,
    sendRate: expected / paced.generator.wallSeconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
    generator: paced.generator,
    errors,
  };
}

let phase = 0;

async function messaging(
  req: Extract<GeneratorRequest, { op: 'messaging' }>,
  event: (e: WindowEvent) => void,
): Promise<MessagingResult> {
  const n = pool.length;
  if (n < 2) throw new Error('messaging needs at least two online users');
  phase++;
  const tag = `${phase}`;
  const recipients = poolUsers.map((u) => `${u}@${domain}`);
  const pad = 'x'.repeat(Math.max(0, req.bodyBytes - 24));
  const latencies = new Latencies(Math.ceil((req.rate * req.durationMs) / 1000) * 2 + 1000);
  const errors: string[] = [];
  for (const client of pool) {
    client.onStanza = (xml) => {
      if (!xml.startsWith('<message')) return;
      const b = xml.indexOf('<body>');
      if (b < 0) {
        if (xml.includes("type='error'") || xml.includes('type="error"')) {
          if (errors.length < 5) errors.push(xml.slice(0, 300));
        }
        return;
      }
      // body: "<m|w><phase> <sentAtMs> <pad>"
      if (xml.charCodeAt(b + 6) !== 109) return; // 'm': sent inside the window
      const sp = xml.indexOf(' ', b + 7);
      if (xml.slice(b + 7, sp) !== tag) return;
      latencies.add(Number(xml.slice(sp + 1, xml.indexOf(' ', sp + 1))));
    };
  }
  const paced = await pace(
    req,
    (seq, inWindow) => {
      const from = seq % n;
      // A spread of recipients that is the same for every server.
      const to = (from + 1 + ((seq * 7919) % (n - 1))) % n;
      const t = performance.now();
      pool[from]!.send(
        `<message to='${recipients[to]}' type='chat' id='${seq}'><body>${inWindow ? 'm' : 'w'}${tag} ${t.toFixed(3)} ${pad}</body></message>`,
      );
    },
    event,
  );
  return drain(latencies, paced.windowSent, paced, req.drainMs, event, errors);
}

const attr = (xml: string, name: string): string | undefined => {
  const m = new RegExp(`\\s${name}=(['"])(.*?)\\1`).exec(xml.slice(0, xml.indexOf('>')));
  return m?.[2];
};

let presencePhase = 0;

async function presence(
  req: Extract<GeneratorRequest, { op: 'presence' }>,
  event: (e: WindowEvent) => void,
): Promise<MessagingResult> {
  const n = pool.length;
  const fanout = Math.min(Math.floor(req.contacts / 2), Math.floor((n - 1) / 2)) * 2;
  presencePhase++;
  const tag = `p${presencePhase}`;
  const latencies = new Latencies(Math.ceil((req.rate * req.durationMs) / 1000) * fanout * 2 + 1000);
  pool.forEach((client, i) => {
    const own = `${poolUsers[i]}@${domain}/`;
    client.onStanza = (xml) => {
      if (!xml.startsWith('<presence')) return;
      // Servers also reflect an update to the sender's own resources (RFC 6121 §4.4.2): not a broadcast.
      if ((attr(xml, 'from') ?? '').startsWith(own)) return;
      const s = xml.indexOf('<status>');
      if (s < 0 || xml.charCodeAt(s + 8) !== 109) return; // 'm': sent inside the window
      const sp = xml.indexOf(' ', s + 9);
      if (xml.slice(s + 9, sp) !== tag) return;
      latencies.add(Number(xml.slice(sp + 1, xml.indexOf('<', sp))));
    };
  });
  const shows = ['away', 'chat', 'dnd', 'xa'];
  const paced = await pace(
    req,
    (seq, inWindow) => {
      const t = performance.now();
      pool[seq % n]!.send(
        `<presence><show>${shows[seq % 4]}</show><status>${inWindow ? 'm' : 'w'}${tag} ${t.toFixed(3)}</status></presence>`,
      );
    },
    event,
  );
  return drain(latencies, paced.windowSent * fanout, paced, req.drainMs, event, []);
}

// ---------------------------------------------------------------- reconnect storm (XEP-0198)

const MAX_ROUNDS = 1000;
const epochNow = (): number => performance.timeOrigin + performance.now();

interface Storm {
  readonly sender: BenchClient;
  readonly n: number;
  /** receipts[i * MAX_ROUNDS + k]: copies of round k that client i received. */
  readonly receipts: Uint8Array;
  rounds: number;
  roundsAtKill: number;
  roundsAtResumed: number;
  timer: NodeJS.Timeout | null;
  readonly resumedAt: Float64Array;
  readonly closedAt: Float64Array;
  failed: number;
  unreachable: number;
  retries: number;
  readonly errors: string[];
  errorStanzas: number;
  streamErrors: number;
  /** Resumed connections that were closed before the end of the scenario. */
  droppedAfterResume: number;
  lastFirstReceipt: number;
  armedCpu: number;
  armedWall: number;
}

let storm: Storm | null = null;

function stormHandler(s: Storm, i: number): (xml: string) => void {
  return (xml) => {
    if (xml.startsWith('<stream:error')) {
      s.streamErrors++;
      if (s.errors.length < 5) s.errors.push(`${poolUsers[i]}: ${xml.slice(0, 300)}`);
      return;
    }
    if (!xml.startsWith('<message')) return;
    const b = xml.indexOf('<body>s');
    if (b < 0) {
      if (xml.includes("type='error'") || xml.includes('type="error"')) {
        s.errorStanzas++;
        if (s.errors.length < 5) s.errors.push(xml.slice(0, 300));
      }
      return;
    }
    const k = Number(xml.slice(b + 7, xml.indexOf('<', b + 7)));
    if (!Number.isInteger(k) || k < 0 || k >= MAX_ROUNDS) return;
    const at = i * MAX_ROUNDS + k;
    if (s.receipts[at] === 0) s.lastFirstReceipt = epochNow();
    if (s.receipts[at]! < 255) s.receipts[at]!++;
  };
}

function sendRound(s: Storm): void {
  if (s.rounds >= MAX_ROUNDS) return;
  const k = s.rounds++;
  const parts: string[] = [];
  for (let i = 0; i < s.n; i++) {
    parts.push(
      `<message to='${poolUsers[i]}@${domain}' type='chat' id='s${k}-${i}'><body>s${k}</body></message>`,
    );
  }
  s.sender.send(parts.join(''));
}

const until = async (done: () => boolean, timeoutMs: number): Promise<boolean> => {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
};

async function stormPrepare(req: Extract<GeneratorRequest, { op: 'storm-prepare' }>): Promise<StormPrepared> {
  const n = pool.length;
  if (n === 0) throw new Error('storm-prepare needs logged-in users');
  const t0 = performance.now();
  const sender = await BenchClient.open(req.sender.target, {
    username: req.sender.username,
    password: req.sender.password,
    resource: 'storm-sender',
  });
  const senderLoginMs = performance.now() - t0;
  const s: Storm = {
    sender,
    n,
    receipts: new Uint8Array(n * MAX_ROUNDS),
    rounds: 0,
    roundsAtKill: 0,
    roundsAtResumed: 0,
    timer: null,
    resumedAt: new Float64Array(n).fill(Number.NaN),
    closedAt: new Float64Array(n).fill(Number.NaN),
    failed: 0,
    unreachable: 0,
    retries: 0,
    errors: [],
    errorStanzas: 0,
    streamErrors: 0,
    droppedAfterResume: 0,
    lastFirstReceipt: 0,
    armedCpu: 0,
    armedWall: 0,
  };
  storm = s;
  sender.listen((xml) => {
    if (xml.startsWith('<message') && (xml.includes("type='error'") || xml.includes('type="error"'))) {
      s.errorStanzas++;
      if (s.errors.length < 5) s.errors.push(`to sender: ${xml.slice(0, 300)}`);
    }
  });
  pool.forEach((client, i) => client.listen(stormHandler(s, i)));
  const t1 = performance.now();
  sendRound(s);
  const all = await until(() => pool.every((_, i) => s.receipts[i * MAX_ROUNDS]! > 0), req.timeoutMs);
  if (!all) {
    const missing = pool.filter((_, i) => s.receipts[i * MAX_ROUNDS] === 0).length;
    throw new Error(`round 0 did not reach ${missing} of ${n} clients within ${req.timeoutMs} ms`);
  }
  await Promise.all(pool.map((c) => c.acknowledge()));
  return { clients: n, senderLoginMs, round0Ms: performance.now() - t1 };
}

async function stormResume(
  s: Storm,
  i: number,
  old: BenchClient,
  req: Extract<GeneratorRequest, { op: 'storm-arm' }>,
): Promise<void> {
  s.closedAt[i] = epochNow();
  const previd = old.smId;
  if (previd === null) {
    s.unreachable++;
    return;
  }
  for (let attempt = 1; attempt <= req.attempts; attempt++) {
    if (attempt > 1) s.retries++;
    try {
      const client = await BenchClient.open(req.resumeTarget, {
        username: poolUsers[i]!,
        password: req.password,
        resume: { previd, h: old.inbound },
        timeoutMs: req.resumeTimeoutMs,
      });
      s.resumedAt[i] = epochNow();
      client.listen(stormHandler(s, i));
      client.onClose = (err) => {
        s.droppedAfterResume++;
        if (s.errors.length < 5) s.errors.push(`${poolUsers[i]} dropped after resuming: ${err.message}`);
      };
      pool[i] = client;
      return;
    } catch (err) {
      if (err instanceof ResumeFailedError) {
        s.failed++;
        if (s.errors.length < 5) s.errors.push(err.message);
        return;
      }
      if (attempt === req.attempts) {
        s.unreachable++;
        if (s.errors.length < 5) s.errors.push(err instanceof Error ? err.message : String(err));
      }
    }
  }
}

function stormArm(req: Extract<GeneratorRequest, { op: 'storm-arm' }>): { rounds: number } {
  const s = storm;
  if (s === null) throw new Error('storm-arm before storm-prepare');
  pool.forEach((client, i) => {
    client.onClose = () => void stormResume(s, i, client, req);
  });
  s.armedCpu = cpuNow();
  s.armedWall = performance.now();
  sendRound(s);
  s.timer = setInterval(() => sendRound(s), req.roundIntervalMs);
  return { rounds: s.rounds };
}

async function stormFinish(
  req: Extract<GeneratorRequest, { op: 'storm-finish' }>,
  event: (e: WindowEvent) => void,
): Promise<StormResult> {
  const s = storm;
  if (s === null) throw new Error('storm-finish before storm-prepare');
  s.roundsAtKill = s.rounds;
  const settled = (): boolean => {
    let done = s.failed + s.unreachable;
    for (const t of s.resumedAt) if (!Number.isNaN(t)) done++;
    return done >= s.n;
  };
  await until(settled, req.resumeWaitMs);
  const generator = {
    cpuSeconds: cpuNow() - s.armedCpu,
    wallSeconds: (performance.now() - s.armedWall) / 1000,
  };
  s.roundsAtResumed = s.rounds;
  event('window-end');
  await new Promise((r) => setTimeout(r, req.tailMs));
  if (s.timer !== null) clearInterval(s.timer);
  s.timer = null;
  const complete = (): boolean => {
    for (let i = 0; i < s.n; i++) {
      for (let k = 0; k < s.rounds; k++) if (s.receipts[i * MAX_ROUNDS + k] === 0) return false;
    }
    return true;
  };
  // A full scan per poll is n × rounds bytes: cheap next to the wait.
  const deliveredInTime = await until(complete, req.deliveryTimeoutMs);
  event('drained');
  let lost = 0;
  let duplicates = 0;
  let resentAfterAck = 0;
  const lostByRound = new Array<number>(s.rounds).fill(0);
  const duplicatesByRound = new Array<number>(s.rounds).fill(0);
  for (let i = 0; i < s.n; i++) {
    for (let k = 0; k < s.rounds; k++) {
      const c = s.receipts[i * MAX_ROUNDS + k]!;
      if (c === 0) {
        lost++;
        lostByRound[k]!++;
      } else {
        duplicates += c - 1;
        duplicatesByRound[k]! += c - 1;
      }
      if (k === 0 && c > 1) resentAfterAck += c - 1;
    }
  }
  const resumeMs = Array.from(s.resumedAt)
    .filter((t) => !Number.isNaN(t))
    .map((t) => t - req.killedAt)
    .sort((a, b) => a - b);
  const noticed = Array.from(s.closedAt)
    .filter((t) => !Number.isNaN(t))
    .map((t) => t - req.killedAt)
    .sort((a, b) => a - b);
  return {
    clients: s.n,
    resumed: resumeMs.length,
    failed: s.failed,
    unreachable: s.unreachable,
    retries: s.retries,
    errors: s.errors,
    resumeMs,
    noticedMsP50: percentile(noticed, 50),
    noticedMsMax: noticed.length === 0 ? Number.NaN : noticed[noticed.length - 1]!,
    rounds: s.rounds,
    roundsBeforeKill: s.roundsAtKill,
    roundsDuringOutage: s.roundsAtResumed - s.roundsAtKill,
    lostByRound,
    duplicatesByRound,
    messages: s.rounds * s.n,
    lost,
    duplicates,
    resentAfterAck,
    allDeliveredMs: s.lastFirstReceipt - req.killedAt,
    deliveredInTime,
    errorStanzas: s.errorStanzas,
    streamErrors: s.streamErrors,
    droppedAfterResume: s.droppedAfterResume,
    generator,
  };
}

async function closeAll(): Promise<{ closed: number }> {
  if (storm !== null) {
    if (storm.timer !== null) clearInterval(storm.timer);
    await storm.sender.close();
    storm = null;
  }
  for (const client of pool) client.onClose = null;
  const clients = pool.splice(0);
  poolUsers.splice(0);
  await Promise.all(clients.map((c) => c.close()));
  return { closed: clients.length };
}

process.on('message', (raw) => {
  const { id, ...req } = raw as { id: number } & GeneratorRequest;
  const reply = (m: GeneratorMessage): void => void process.send?.(m);
  const run = async (): Promise<unknown> => {
    switch (req.op) {
      case 'register':
        return loginAll(req, true);
      case 'login':
        return loginAll(req, false);
      case 'messaging':
        return messaging(req, (event) => reply({ id, event }));
      case 'presence':
        return presence(req, (event) => reply({ id, event }));
      case 'close-all':
        return closeAll();
      case 'storm-prepare':
        return stormPrepare(req);
      case 'storm-arm':
        return stormArm(req);
      case 'storm-finish':
        return stormFinish(req, (event) => reply({ id, event }));
    }
  };
  run().then(
    (result) => reply({ id, result }),
    (err: unknown) => reply({ id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
