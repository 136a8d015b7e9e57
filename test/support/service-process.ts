// A service as its own process, as a deployment runs it: `node services/<service>/dist/main.js`
// (built by `pnpm -s build`) with a JSON config file in a temp dir of its own; its pino lines can
// be awaited. Stopped with SIGTERM (the ordered shutdown) or SIGKILL (a crash).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Inbox } from '@switchboard/testkit';
import { ROOT } from './paths.js';

export type LogLine = Record<string, unknown> & { msg?: string };

/** Every process started here, so that none outlives the test worker. */
const spawned = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of spawned) child.kill('SIGKILL');
});

/** How many output lines a failed test prints. */
const TAIL = 300;

export class ServiceProcess {
  /** Every JSON log line so far, and the ones to come. */
  readonly lines = new Inbox<LogLine>();
  readonly #tail: string[] = [];
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  protected constructor(
    readonly name: string,
    private readonly dir: string,
  ) {}

  /**
   * Starts `services/<service>/dist/main.js` with `config` (plus `dataDir` and debug logging) and
   * waits for each of the `ready` log messages. `make` builds the subclass's object.
   */
  protected static async launch<P extends ServiceProcess>(
    make: (dir: string) => P,
    service: string,
    config: Record<string, unknown>,
    ready: readonly string[],
  ): Promise<P> {
    const dir = await mkdtemp(join(tmpdir(), `${service}-`));
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify({ dataDir: dir, logLevel: 'debug', ...config }));
    const proc = make(dir);
    // The test's own SWITCHBOARD_* must not leak into the service: it gets its config file only.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('SWITCHBOARD_')),
    ) as Record<string, string>;
    const child = spawn(process.execPath, [join(ROOT, `services/${service}/dist/main.js`)], {
      cwd: dir,
      env: { ...env, SWITCHBOARD_CONFIG: file },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.#child = child;
    spawned.add(child);
    proc.#exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        spawned.delete(child);
        proc.#tail.push(`[exited: ${String(code ?? signal)}]`);
        resolve();
      }),
    );
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) proc.#onLine(line);
      });
    }
    for (const msg of ready) await proc.waitFor((l) => l.msg === msg, msg, 30_000);
    return proc;
  }

  #onLine(line: string): void {
    if (line.trim() === '') return;
    this.#tail.push(line);
    if (this.#tail.length > TAIL) this.#tail.shift();
    try {
      this.lines.push(JSON.parse(line) as LogLine);
    } catch {
      // not a log line
    }
  }

  waitFor(test: (l: LogLine) => boolean, what: string, timeoutMs = 20_000): Promise<LogLine> {
    return this.lines.waitFor(test, `${this.name}: ${what}\n${this.report()}`, timeoutMs);
  }

  report(): string {
    return `--- ${this.name}:\n${this.#tail.join('\n')}`;
  }

  /** Sends SIGTERM (the ordered shutdown) without waiting for the exit. */
  terminate(): void {
    this.#child?.kill('SIGTERM');
  }

  /** SIGTERM, then waits for the exit. */
  async stop(): Promise<void> {
    this.terminate();
    await this.exited();
  }

  /** SIGKILL: a crash, nothing is handed back or finished. */
  async kill(): Promise<void> {
    if (this.#child?.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
    await this.exited();
  }

  /** Resolves when the process has exited (and removes its directory). */
  async exited(): Promise<void> {
    await this.#exited;
    await rm(this.dir, { recursive: true, force: true });
  }
}
