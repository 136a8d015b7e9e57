import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./test/fixtures/service.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

interface Running {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  stderr(): string;
  /** Resolves with the first log line (seen or still to come) that matches. */
  waitFor(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  readonly exit: Promise<number | null>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function start(env: Record<string, string>): Running {
  // Only the variables given here reach the child, so the developer's own SWITCHBOARD_* cannot leak in.
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    cwd: repoRoot,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  const waiters: {
    match: (line: Record<string, unknown>) => boolean;
    resolve: (line: Record<string, unknown>) => void;
  }[] = [];
  createInterface({ input: child.stdout }).on('line', (text) => {
    const line = JSON.parse(text) as Record<string, unknown>;
    lines.push(line);
    for (const waiter of waiters.splice(0)) {
      if (waiter.match(line)) waiter.resolve(line);
      else waiters.push(waiter);
    }
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // 'close' rather than 'exit': by then stdout is fully read.
  const exit = once(child, 'close').then(([code]) => code as number | null);
  return {
    child,
    lines,
    stderr: () => stderr,
    exit,
    waitFor: (match) => {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      const next = new Promise<Record<string, unknown>>((resolve) => waiters.push({ match, resolve }));
      return Promise.race([
        next,
        exit.then(() => Promise.reject(new Error(`exited before the line came: ${stderr}`))),
      ]);
    },
  };
}

describe('a service process built on kit', () => {
  it('prints every config error at once and exits 1', async () => {
    const run = start({ SWITCHBOARD_OPS__PORT: 'abc', SWITCHBOARD_HANG_IN_DRAN: '1' });
    expect(await run.exit).toBe(1);
    const stderr = run.stderr();
    expect(stderr).toContain('invalid configuration (3 errors)');
    expect(stderr).toMatch(/- service: .*\n/);
    expect(stderr).toMatch(/- ops\.port: .*\[SWITCHBOARD_OPS__PORT\]/);
    expect(stderr).toMatch(
      /- HANG_IN_DRAN: no such setting \(did you mean hangInDrain\?\) \[SWITCHBOARD_HANG_IN_DRAN\]/,
    );
    expect(run.lines).toEqual([]);
  });

  it('on SIGTERM runs the shutdown phases in order and exits 0', async () => {
    const run = start({ SWITCHBOARD_SERVICE__NAME: 'fixture' });
    const ready = await run.waitFor((l) => l['msg'] === 'ready');
    const readyz = await fetch(`http://127.0.0.1:${String(ready['port'])}/readyz`);
    expect(readyz.status).toBe(200);

    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    const hooks = run.lines.filter((l) => l['msg'] === 'hook ran').map((l) => l['hook']);
    expect(hooks).toEqual(['listener', 'sessions', 'in-flight', 'redis']);
    expect(run.lines.at(-1)).toMatchObject({
      msg: 'shutdown complete',
      reason: 'signal SIGTERM',
      failed: 0,
      service: 'fixture',
    });
  });

  it('reports not ready while draining and exits 1 on a second signal', async () => {
    const run = start({ SWITCHBOARD_SERVICE__NAME: 'fixture', SWITCHBOARD_HANG_IN_DRAIN: 'true' });
    const ready = await run.waitFor((l) => l['msg'] === 'ready');
    run.child.kill('SIGTERM');
    await run.waitFor((l) => l['msg'] === 'hook started' && l['hook'] === 'sessions');

    const readyz = await fetch(`http://127.0.0.1:${String(ready['port'])}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.json()).toEqual({ status: 'draining' });

    run.child.kill('SIGINT');
    expect(await run.exit).toBe(1);
    expect(run.lines.some((l) => l['msg'] === 'second signal during shutdown; exiting now')).toBe(true);
    expect(run.lines.some((l) => l['msg'] === 'shutdown complete')).toBe(false);
  });
});
