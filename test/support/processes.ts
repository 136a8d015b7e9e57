// Child processes of a test (services, redis-server, haproxy) whose output lines can be awaited,
// killed with the test worker if a test leaves one behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT } from './paths.js';

/** Every process started here, so that none outlives the test worker. */
const spawned = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of spawned) child.kill('SIGKILL');
});

/**
 * A child process run from the checkout's root whose output, line by line, a subclass turns into
 * items (`accept`) that `waitFor` awaits.
 */
export abstract class WatchedProcess<T> {
  private readonly child: ChildProcess;
  /** Every item accepted, in order. */
  protected readonly items: T[] = [];
  private waiters: { test: (item: T) => boolean; resolve: (item: T) => void }[] = [];
  readonly exited: Promise<void>;
  protected exitNote = '';

  constructor(
    readonly name: string,
    command: string,
    args: readonly string[],
    env: Readonly<Record<string, string>>,
  ) {
    // The test's own SWITCHBOARD_* must not leak into a service: it gets the given environment only.
    const base = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('SWITCHBOARD_')),
    ) as Record<string, string>;
    this.child = spawn(command, args, {
      cwd: ROOT,
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    spawned.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        spawned.delete(this.child);
        this.exitNote = `exited (code ${String(code)}, signal ${String(signal)})`;
        this.onExit(`[${this.exitNote}]`);
        resolve();
      });
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      let partial = '';
      this.child[stream]?.setEncoding('utf8');
      this.child[stream]?.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) if (line.trim() !== '') this.onLine(line, stream);
      });
    }
  }

  /** One non-blank output line. */
  protected abstract onLine(line: string, stream: 'stdout' | 'stderr'): void;

  /** The process exited; `note` says how. */
  protected abstract onExit(note: string): void;

  /** What a failed test prints about this process. */
  abstract report(): string;

  protected accept(item: T): void {
    this.items.push(item);
    this.waiters = this.waiters.filter((w) => (w.test(item) ? (w.resolve(item), false) : true));
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Every item so far that passes `test`. */
  all(test: (item: T) => boolean): T[] {
    return this.items.filter(test);
  }

  /** The first item, past or future, that passes `test`; rejects when the process exits first. */
  waitFor(test: (item: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
    const found = this.items.find(test);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}`)),
        timeoutMs,
      );
      void this.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${this.name} ${this.exitNote} before ${what}`));
      });
      this.waiters.push({
        test,
        resolve: (item) => {
          clearTimeout(timer);
          resolve(item);
        },
      });
    });
  }

  /** SIGKILL, as a crash would; resolves once the process is gone. */
  async kill(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }
}
