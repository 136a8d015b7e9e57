// services/sms-gateway as its own process (`node services/sms-gateway/dist/main.js`, built by
// `pnpm -s build`) with a JSON config file: what a deployment runs, stopped with SIGTERM or killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Inbox } from '@switchboard/testkit';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type LogLine = Record<string, unknown> & { msg?: string };

const spawned = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of spawned) child.kill('SIGKILL');
});

export class GatewayProcess {
  readonly lines = new Inbox<LogLine>();
  private readonly tail: string[] = [];
  private child: ChildProcess | undefined;
  private exitedPromise: Promise<void> = Promise.resolve();

  private constructor(
    readonly name: string,
    private readonly dir: string,
  ) {}

  /** Starts the process and waits until it logged `sms gateway ready` and its component went online. */
  static async start(name: string, config: Record<string, unknown>): Promise<GatewayProcess> {
    const dir = await mkdtemp(join(tmpdir(), `sms-${name}-`));
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify({ dataDir: dir, logLevel: 'debug', ...config }));
    const proc = new GatewayProcess(name, dir);
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('SWITCHBOARD_')),
    ) as Record<string, string>;
    const child = spawn(process.execPath, [join(ROOT, 'services/sms-gateway/dist/main.js')], {
      cwd: dir,
      env: { ...env, SWITCHBOARD_CONFIG: file },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.child = child;
    spawned.add(child);
    proc.exitedPromise = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        spawned.delete(child);
        proc.tail.push(`[exited: ${String(code ?? signal)}]`);
        resolve();
      }),
    );
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) proc.onLine(line);
      });
    }
    await proc.waitFor((l) => l.msg === 'sms gateway ready', 'sms gateway ready', 30_000);
    await proc.waitFor((l) => l.msg === 'component online', 'component online', 30_000);
    return proc;
  }

  private onLine(line: string): void {
    if (line.trim() === '') return;
    this.tail.push(line);
    if (this.tail.length > 300) this.tail.shift();
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
    return `--- ${this.name}:\n${this.tail.join('\n')}`;
  }

  /** Sends SIGTERM (the ordered shutdown) without waiting for the exit. */
  terminate(): void {
    this.child?.kill('SIGTERM');
  }

  /** SIGKILL: a crash, nothing is handed back or finished. */
  async kill(): Promise<void> {
    if (this.child?.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited();
  }

  /** Resolves when the process has exited (and removes its directory). */
  async exited(): Promise<void> {
    await this.exitedPromise;
    await rm(this.dir, { recursive: true, force: true });
  }
}
