import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type {
  GeneratorMessage,
  GeneratorRequest,
  LoginResult,
  MessagingResult,
  StormPrepared,
  StormResult,
  WindowEvent,
} from './generator.js';

type Reply<R extends GeneratorRequest> = R['op'] extends 'messaging' | 'presence'
  ? MessagingResult
  : R['op'] extends 'close-all'
    ? { closed: number }
    : R['op'] extends 'storm-prepare'
      ? StormPrepared
      : R['op'] extends 'storm-arm'
        ? { rounds: number }
        : R['op'] extends 'storm-finish'
          ? StormResult
          : LoginResult;

/** The parent's handle on a forked generator process. */
export class Generator {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    {
      resolve: (v: unknown) => void;
      reject: (e: Error) => void;
      onEvent?: (e: WindowEvent) => void;
    }
  >();

  private constructor(readonly child: ChildProcess) {
    child.on('message', (raw) => {
      const m = raw as GeneratorMessage;
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      if ('event' in m) p.onEvent?.(m.event);
      else {
        this.pending.delete(m.id);
        if ('error' in m) p.reject(new Error(`generator: ${m.error}`));
        else p.resolve(m.result);
      }
    });
    child.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`generator exited with ${code}`));
      this.pending.clear();
    });
  }

  /** Forks the generator, on `cpu` when given (with taskset). */
  static start(cpu?: number): Generator {
    const script = fileURLToPath(new URL('./generator.ts', import.meta.url));
    const nodeArgs = ['--import', 'tsx'];
    const child =
      cpu === undefined
        ? fork(script, [], { execArgv: nodeArgs, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
        : fork(script, [], {
            execPath: 'taskset',
            execArgv: ['-c', String(cpu), process.execPath, ...nodeArgs],
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          });
    return new Generator(child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  call<R extends GeneratorRequest>(req: R, onEvent?: (e: WindowEvent) => void): Promise<Reply<R>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        resolve: resolve as (v: unknown) => void,
        reject,
        ...(onEvent === undefined ? {} : { onEvent }),
      });
      this.child.send({ id, ...req });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
