import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { ShutdownTimeoutError, createShutdown, type SignalTarget } from './shutdown.js';
import { captureLogs } from './test/capture-logs.js';

function setup(timeoutMs?: number) {
  const logs = captureLogs();
  const logger = createLogger({ service: 'test', destination: logs.destination });
  return { logs, shutdown: createShutdown({ logger, ...(timeoutMs === undefined ? {} : { timeoutMs }) }) };
}

/** A stand-in for `process` that records exit codes; `exited` resolves with the first one. */
class FakeProcess extends EventEmitter implements SignalTarget {
  readonly codes: number[] = [];
  private resolveExit!: (code: number) => void;
  readonly exited = new Promise<number>((resolve) => (this.resolveExit = resolve));
  exit(code: number): void {
    this.codes.push(code);
    this.resolveExit(code);
  }
}

describe('createShutdown', () => {
  it('runs phases in order: stop-accepting, drain, finish, close-clients', async () => {
    const { shutdown } = setup();
    const order: string[] = [];
    const later = (name: string) => async () => {
      await new Promise((resolve) => setImmediate(resolve));
      order.push(name);
    };
    // Registered out of order on purpose: the phase decides, not the registration order.
    shutdown.register('redis', 'close-clients', later('redis'));
    shutdown.register('ack', 'finish', later('ack'));
    shutdown.register('listener', 'stop-accepting', later('listener'));
    shutdown.register('sessions', 'drain', later('sessions'));
    await shutdown.run('test');
    expect(order).toEqual(['listener', 'sessions', 'ack', 'redis']);
  });

  it('runs the hooks of one phase in parallel', async () => {
    const { shutdown } = setup();
    const events: string[] = [];
    let releaseA!: () => void;
    shutdown.register('a', 'drain', async () => {
      events.push('a start');
      await new Promise<void>((resolve) => (releaseA = resolve));
      events.push('a end');
    });
    shutdown.register('b', 'drain', () => {
      events.push('b ran');
      releaseA();
    });
    await shutdown.run('test');
    expect(events).toEqual(['a start', 'b ran', 'a end']);
  });

  it('runs only once: a second call returns the same promise', async () => {
    const { shutdown } = setup();
    let calls = 0;
    shutdown.register('count', 'finish', () => void calls++);
    expect(shutdown.isShuttingDown).toBe(false);
    const first = shutdown.run('one');
    const second = shutdown.run('two');
    expect(second).toBe(first);
    expect(shutdown.isShuttingDown).toBe(true);
    expect(shutdown.signal.aborted).toBe(true);
    expect((await first).reason).toBe('one');
    expect(calls).toBe(1);
  });

  it('logs a hook that throws and still runs the rest', async () => {
    const { shutdown, logs } = setup();
    const ran: string[] = [];
    shutdown.register('bad', 'drain', () => {
      throw new Error('drain exploded');
    });
    shutdown.register('good', 'drain', () => void ran.push('good'));
    shutdown.register('redis', 'close-clients', () => void ran.push('redis'));
    const report = await shutdown.run('test');
    expect(ran).toEqual(['good', 'redis']);
    expect(report.failures.map((f) => [f.name, f.phase, (f.error as Error).message])).toEqual([
      ['bad', 'drain', 'drain exploded'],
    ]);
    expect(logs.lines.find((l) => l['msg'] === 'shutdown hook failed')).toMatchObject({
      level: 'error',
      hook: 'bad',
      phase: 'drain',
      err: { message: 'drain exploded' },
    });
  });

  it('rejects with ShutdownTimeoutError naming the stuck hook when the budget runs out', async () => {
    const { shutdown } = setup(50);
    shutdown.register('stuck', 'finish', () => new Promise<void>(() => {}));
    const error: unknown = await shutdown.run('test').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShutdownTimeoutError);
    expect((error as ShutdownTimeoutError).name).toBe('ShutdownTimeoutError');
    expect((error as ShutdownTimeoutError).pending).toEqual(['stuck']);
  });

  it('skips a hook that was unregistered, and runs one added for a phase not yet started', async () => {
    const { shutdown } = setup();
    const ran: string[] = [];
    const remove = shutdown.register('gone', 'drain', () => void ran.push('gone'));
    remove();
    shutdown.register('first', 'stop-accepting', () => {
      shutdown.register('late', 'close-clients', () => void ran.push('late'));
    });
    await shutdown.run('test');
    expect(ran).toEqual(['late']);
  });

  it('exits 0 after a clean shutdown started by SIGTERM', async () => {
    const { shutdown } = setup();
    const proc = new FakeProcess();
    let closed = false;
    shutdown.register('redis', 'close-clients', () => void (closed = true));
    shutdown.installSignalHandlers(proc);
    proc.emit('SIGTERM', 'SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(closed).toBe(true);
  });

  it('exits 1 when a hook failed during a signalled shutdown', async () => {
    const { shutdown } = setup();
    const proc = new FakeProcess();
    shutdown.register('bad', 'finish', () => Promise.reject(new Error('ack failed')));
    shutdown.installSignalHandlers(proc);
    proc.emit('SIGINT', 'SIGINT');
    expect(await proc.exited).toBe(1);
  });

  it('exits 1 when a signalled shutdown times out', async () => {
    const { shutdown } = setup(30);
    const proc = new FakeProcess();
    shutdown.register('stuck', 'drain', () => new Promise<void>(() => {}));
    shutdown.installSignalHandlers(proc);
    proc.emit('SIGTERM', 'SIGTERM');
    expect(await proc.exited).toBe(1);
  });

  it('exits 1 at once on a second signal during shutdown', async () => {
    const { shutdown } = setup();
    const proc = new FakeProcess();
    let release!: () => void;
    let entered!: () => void;
    const inDrain = new Promise<void>((resolve) => (entered = resolve));
    shutdown.register('slow', 'drain', () => {
      entered();
      return new Promise<void>((resolve) => (release = resolve));
    });
    shutdown.installSignalHandlers(proc);
    proc.emit('SIGTERM', 'SIGTERM');
    await inDrain;
    proc.emit('SIGINT', 'SIGINT');
    expect(await proc.exited).toBe(1);
    expect(proc.codes[0]).toBe(1);
    release();
    await shutdown.run('ignored');
  });

  it('removes its signal handlers when asked', () => {
    const { shutdown } = setup();
    const proc = new FakeProcess();
    const uninstall = shutdown.installSignalHandlers(proc);
    expect(proc.listenerCount('SIGTERM')).toBe(1);
    uninstall();
    expect(proc.listenerCount('SIGTERM') + proc.listenerCount('SIGINT')).toBe(0);
  });
});
