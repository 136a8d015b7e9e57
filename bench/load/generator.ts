/**
 * The load generator, run in its own process (forked by driver.ts) so that its
 * CPU is never counted as the server's. It holds a pool of logged-in clients
 * and answers requests from the parent over the IPC channel.
 */
import { performance } from 'node:perf_hooks';
import { BenchClient, type Target } from './client.js';

export interface UsersSpec {
  readonly target: Target;
  /** Localparts. */
  readonly users: readonly string[];
  readonly password: string;
  /** Logins in flight at once. */
  readonly concurrency: number;
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
  | { readonly op: 'close-all' };

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
      const user = spec.users[next++]!;
      const start = performance.now();
      try {
        const client = await BenchClient.open(spec.target, {
          username: user,
          password: spec.password,
          register: registerOnly,
          registerOnly,
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
  const latencies = new Float64Array(Math.ceil((req.rate * req.durationMs) / 1000) * 2 + 1000);
  let received = 0;
  let inWindow = false;
  let windowSent = 0;
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
      const sentAt = Number(xml.slice(sp + 1, xml.indexOf(' ', sp + 1)));
      if (received < latencies.length) latencies[received] = performance.now() - sentAt;
      received++;
    };
  }
  let sent = 0;
  const start = performance.now();
  const windowStart = start + req.warmupMs;
  const windowEnd = windowStart + req.durationMs;
  let cpu0 = 0;
  let wall0 = 0;
  let cpu1 = 0;
  let wall1 = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      if (!inWindow && now >= windowStart && now < windowEnd) {
        inWindow = true;
        event('window-start');
        cpu0 = cpuNow();
        wall0 = performance.now();
      }
      if (now >= windowEnd) {
        cpu1 = cpuNow();
        wall1 = performance.now();
        event('window-end');
        resolve();
        return;
      }
      const due = Math.floor(((now - start) * req.rate) / 1000) - sent;
      const prefix = inWindow ? 'm' : 'w';
      for (let k = 0; k < due; k++) {
        const from = sent % n;
        // A spread of recipients that is the same for every server.
        const to = (from + 1 + ((sent * 7919) % (n - 1))) % n;
        const t = performance.now();
        pool[from]!.send(
          `<message to='${recipients[to]}' type='chat' id='${sent}'><body>${prefix}${tag} ${t.toFixed(3)} ${pad}</body></message>`,
        );
        sent++;
        if (inWindow) windowSent++;
      }
      setTimeout(tick, 1);
    };
    tick();
  });
  const drainUntil = performance.now() + req.drainMs;
  while (received < windowSent && performance.now() < drainUntil) {
    await new Promise((r) => setTimeout(r, 10));
  }
  event('drained');
  const got = Math.min(received, latencies.length);
  const sorted = latencies.subarray(0, got).sort();
  for (const client of pool) client.onStanza = () => undefined;
  return {
    sent: windowSent,
    received,
    lost: windowSent - received,
    sendRate: windowSent / ((wall1 - wall0) / 1000),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: got === 0 ? Number.NaN : sorted[got - 1]!,
    generator: { cpuSeconds: cpu1 - cpu0, wallSeconds: (wall1 - wall0) / 1000 },
    errors,
  };
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
  const latencies = new Float64Array(Math.ceil((req.rate * req.durationMs) / 1000) * fanout * 2 + 1000);
  let received = 0;
  let inWindow = false;
  let windowSent = 0;
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
      const sentAt = Number(xml.slice(sp + 1, xml.indexOf('<', sp)));
      if (received < latencies.length) latencies[received] = performance.now() - sentAt;
      received++;
    };
  });
  let sent = 0;
  const start = performance.now();
  const windowStart = start + req.warmupMs;
  const windowEnd = windowStart + req.durationMs;
  let cpu0 = 0;
  let wall0 = 0;
  let cpu1 = 0;
  let wall1 = 0;
  const shows = ['away', 'chat', 'dnd', 'xa'];
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      if (!inWindow && now >= windowStart && now < windowEnd) {
        inWindow = true;
        event('window-start');
        cpu0 = cpuNow();
        wall0 = performance.now();
      }
      if (now >= windowEnd) {
        cpu1 = cpuNow();
        wall1 = performance.now();
        event('window-end');
        resolve();
        return;
      }
      const due = Math.floor(((now - start) * req.rate) / 1000) - sent;
      const prefix = inWindow ? 'm' : 'w';
      for (let k = 0; k < due; k++) {
        const t = performance.now();
        pool[sent % n]!.send(
          `<presence><show>${shows[sent % 4]}</show><status>${prefix}${tag} ${t.toFixed(3)}</status></presence>`,
        );
        sent++;
        if (inWindow) windowSent++;
      }
      setTimeout(tick, 1);
    };
    tick();
  });
  const expected = windowSent * fanout;
  const drainUntil = performance.now() + req.drainMs;
  while (received < expected && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 10));
  event('drained');
  const got = Math.min(received, latencies.length);
  const sorted = latencies.subarray(0, got).sort();
  for (const client of pool) client.onStanza = () => undefined;
  return {
    sent: expected,
    received,
    lost: expected - received,
    sendRate: expected / ((wall1 - wall0) / 1000),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: got === 0 ? Number.NaN : sorted[got - 1]!,
    generator: { cpuSeconds: cpu1 - cpu0, wallSeconds: (wall1 - wall0) / 1000 },
    errors: [],
  };
}

async function closeAll(): Promise<{ closed: number }> {
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
    }
  };
  run().then(
    (result) => reply({ id, result }),
    (err: unknown) => reply({ id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
