import type { Logger } from 'pino';

/**
 * Shutdown runs these phases in this order (ARCHITECTURE.md, "Configuration, observability,
 * operations"): stop accepting new work, drain what is queued (edges move clients off), finish and ack
 * in-flight work, and close clients last, Redis among them, since every earlier phase may still need it.
 */
export const SHUTDOWN_PHASES = ['stop-accepting', 'drain', 'finish', 'close-clients'] as const;
export type ShutdownPhase = (typeof SHUTDOWN_PHASES)[number];

export type ShutdownHook = () => void | Promise<void>;

export interface ShutdownFailure {
  readonly name: string;
  readonly phase: ShutdownPhase;
  readonly error: unknown;
}

export interface ShutdownReport {
  readonly reason: string;
  /** Hooks that threw; the others still ran. */
  readonly failures: readonly ShutdownFailure[];
}

/** Shutdown did not finish within its time budget; `pending` names the hooks still running. */
export class ShutdownTimeoutError extends Error {
  override readonly name = 'ShutdownTimeoutError';
  constructor(
    readonly timeoutMs: number,
    readonly pending: readonly string[],
  ) {
    super(`shutdown did not finish within ${timeoutMs} ms; still running: ${pending.join(', ') || '(none)'}`);
  }
}

/** What installSignalHandlers needs from `process`; a test passes its own. */
export interface SignalTarget {
  on(event: 'SIGTERM' | 'SIGINT', listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: 'SIGTERM' | 'SIGINT', listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
}

export interface ShutdownOptions {
  readonly logger: Logger;
  /** Budget for all phases together; past it, run() rejects with ShutdownTimeoutError. Default 30 s. */
  readonly timeoutMs?: number;
}

export interface Shutdown {
  /**
   * Adds a hook to a phase; returns a function that removes it. Hooks of one phase run in parallel:
   * anything that must come after something else belongs in a later phase. A hook added while shutdown
   * runs still runs if its phase has not started yet.
   */
  register(name: string, phase: ShutdownPhase, hook: ShutdownHook): () => void;
  /** Runs every phase once; later calls return the same promise. */
  run(reason: string): Promise<ShutdownReport>;
  /**
   * SIGTERM/SIGINT run shutdown, then exit 0, or 1 when a hook failed or time ran out. A second signal
   * while shutting down exits 1 at once. Returns a function that removes the handlers.
   */
  installSignalHandlers(target?: SignalTarget): () => void;
  readonly isShuttingDown: boolean;
  /** Aborted when shutdown starts, for loops and timers that should stop taking work. */
  readonly signal: AbortSignal;
}

interface Entry {
  readonly name: string;
  readonly phase: ShutdownPhase;
  readonly hook: ShutdownHook;
}

export function createShutdown(options: ShutdownOptions): Shutdown {
  const { logger } = options;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const entries = new Set<Entry>();
  const controller = new AbortController();
  const started = new Set<ShutdownPhase>();
  const pending = new Set<string>();
  let running: Promise<ShutdownReport> | undefined;

  const runPhases = async (reason: string): Promise<ShutdownReport> => {
    const failures: ShutdownFailure[] = [];
    for (const phase of SHUTDOWN_PHASES) {
      started.add(phase);
      const hooks = [...entries].filter((e) => e.phase === phase);
      if (hooks.length === 0) continue;
      logger.info({ phase, hooks: hooks.map((h) => h.name) }, 'shutdown phase');
      await Promise.all(
        hooks.map(async ({ name, hook }) => {
          pending.add(name);
          try {
            await hook();
          } catch (error) {
            logger.error({ err: error, phase, hook: name }, 'shutdown hook failed');
            failures.push({ name, phase, error });
          } finally {
            pending.delete(name);
          }
        }),
      );
    }
    logger.info({ reason, failed: failures.length }, 'shutdown complete');
    return { reason, failures };
  };

  const run = (reason: string): Promise<ShutdownReport> => {
    if (running) return running;
    controller.abort(reason);
    logger.info({ reason, timeoutMs }, 'shutdown started');
    let timer: NodeJS.Timeout | undefined;
    // The timer stays referenced: a hook stuck on an unreferenced promise must not let the process
    // slip out with exit code 0 before the budget is spent.
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new ShutdownTimeoutError(timeoutMs, [...pending]);
        logger.error({ err: error }, 'shutdown timed out');
        reject(error);
      }, timeoutMs);
    });
    running = Promise.race([runPhases(reason), timeout]).finally(() => clearTimeout(timer));
    return running;
  };

  const register = (name: string, phase: ShutdownPhase, hook: ShutdownHook): (() => void) => {
    if (started.has(phase))
      logger.warn({ hook: name, phase }, 'shutdown hook added after its phase ran; ignored');
    const entry: Entry = { name, phase, hook };
    entries.add(entry);
    return () => {
      entries.delete(entry);
    };
  };

  const installSignalHandlers = (target: SignalTarget = process): (() => void) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (running) {
        logger.warn({ signal }, 'second signal during shutdown; exiting now');
        target.exit(1);
        return;
      }
      run(`signal ${signal}`).then(
        (report) => target.exit(report.failures.length === 0 ? 0 : 1),
        () => target.exit(1),
      );
    };
    target.on('SIGTERM', onSignal);
    target.on('SIGINT', onSignal);
    return () => {
      target.off('SIGTERM', onSignal);
      target.off('SIGINT', onSignal);
    };
  };

  return {
    register,
    run,
    installSignalHandlers,
    get isShuttingDown() {
      return running !== undefined;
    },
    signal: controller.signal,
  };
}
