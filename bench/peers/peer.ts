import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Target } from '../load/client.js';
import { processTree } from '../load/proc-stats.js';

/** A server under test, started privately on free ports with its own config and data. */
export interface RunningPeer {
  readonly name: string;
  readonly version: string;
  readonly target: Target;
  /**
   * Every client entry point when there are several (a cluster's edges, `target` among them): the
   * scenarios spread their users over them (user i on `targets[i % n]`).
   */
  readonly targets?: readonly Target[];
  /** Root pids whose process trees are the server (descendants are found at each sample). */
  readonly pids: readonly number[];
  /** How it was configured, for the report. */
  readonly notes: string;
  stop(): Promise<void>;
}

export interface PeerStartOptions {
  /** Accounts to exist before the scenario runs (localparts), all with `password`. */
  readonly users: readonly string[];
  readonly password: string;
  /** Pin the server to this CPU (taskset) from its first instruction. */
  readonly cpu?: number;
  /**
   * Give every user this many contacts with mutual ('both') subscriptions: the users nearest
   * in a ring (see {@link ringContacts}), written into the server's own storage before it starts.
   */
  readonly contacts?: number;
  /**
   * Let clients authenticate (SCRAM) on a plain TCP stream: STARTTLS offered but not required
   * (RFC 6120 §5.3.1). Default false: STARTTLS required, as every peer runs otherwise.
   */
  readonly allowPlaintextAuth?: boolean;
}

/** How a peer's notes say whether TLS is required. */
export const tlsNote = (options: PeerStartOptions): string =>
  options.allowPlaintextAuth === true ? 'STARTTLS optional (SASL allowed without TLS)' : 'STARTTLS required';

/** Indices of user `i`'s contacts in a ring of `n` users: the `contacts` nearest, half on each side. */
export function ringContacts(i: number, n: number, contacts: number): number[] {
  const half = Math.min(Math.floor(contacts / 2), Math.floor((n - 1) / 2));
  const out: number[] = [];
  for (let d = 1; d <= half; d++) out.push((i + d) % n, (i - d + n) % n);
  return out;
}

export type PeerStart = (options: PeerStartOptions) => Promise<RunningPeer | { readonly skipped: string }>;

export interface PeerSpec {
  readonly name: string;
  readonly start: PeerStart;
}

/** SCRAM iteration count every peer stores credentials with. */
export const SCRAM_ITERATIONS = 4096;

export const TLS_KEY = fileURLToPath(new URL('../../test/fixtures/tls/server.key', import.meta.url));
export const TLS_CERT = fileURLToPath(new URL('../../test/fixtures/tls/server.pem', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A fresh directory, owned by `user` when given (servers that drop root). */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `sb-bench-${prefix}-`));
}

export function chownTree(dir: string, uid: number, gid: number): void {
  chownSync(dir, uid, gid);
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) chownTree(path, uid, gid);
    else chownSync(path, uid, gid);
  }
}

export function userIds(name: string): { uid: number; gid: number } | null {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return null;
  }
}

export function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const path = join(dir, cmd);
    if (existsSync(path)) return path;
  }
  return null;
}

export function debianVersion(pkg: string): string | null {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export function writeFile(path: string, text: string): void {
  writeFileSync(path, text);
}

export function spawnServer(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; cpu?: number; uid?: number; gid?: number; log: string },
): ChildProcess {
  const [cmd, argv] =
    options.cpu === undefined ? [command, args] : ['taskset', ['-c', String(options.cpu), command, ...args]];
  const child = spawn(cmd, argv, {
    env: options.env ?? process.env,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const out: string[] = [];
  const keep = (chunk: Buffer): void => {
    out.push(chunk.toString('utf8'));
    if (out.length > 200) out.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('exit', () => writeFileSync(options.log, out.join('')));
  return child;
}

/** Resolves once the port accepts a TCP connection; rejects if the child exits first or on timeout. */
export async function waitForPort(
  port: number,
  child: ChildProcess,
  timeoutMs: number,
  log: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited with ${child.exitCode ?? child.signalCode} before listening (see ${log})`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not listening on ${port} after ${timeoutMs} ms`);
}

/** SIGTERM to the tree (leaves first), then SIGKILL what is left after `graceMs`. */
export async function stopTree(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.pid === undefined) return;
  const pids = processTree([child.pid]).map((s) => s.pid);
  const exited =
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((r) => child.once('exit', () => r()));
  for (const pid of pids.reverse()) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  const timer = setTimeout(() => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }, graceMs);
  await exited;
  // Descendants may outlive the root briefly (ejabberd's beam behind su).
  const until = Date.now() + graceMs;
  while (Date.now() < until && pids.some((pid) => alive(pid))) await new Promise((r) => setTimeout(r, 50));
  clearTimeout(timer);
  for (const pid of pids.filter(alive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as expected
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Set BENCH_KEEP=1 to keep each server's directory (config, logs) for a post-mortem. */
export function removeDir(dir: string): void {
  if (process.env.BENCH_KEEP === '1') {
    console.error(`  kept ${dir}`);
    return;
  }
  rmSync(dir, { recursive: true, force: true });
}
