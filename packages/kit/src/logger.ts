import { hostname } from 'node:os';
import { pino, type DestinationStream, type Level, type Logger } from 'pino';

export type { Level as LogLevel, Logger } from 'pino';

/**
 * The fields that tie a log line to the cluster's moving parts (ARCHITECTURE.md, "Configuration,
 * observability, operations"); bind them with `logger.child(bindings)` so every line carries them.
 */
export interface LogBindings {
  readonly edgeId?: string;
  readonly sessionId?: string;
  readonly envelopeId?: string;
  readonly [key: string]: unknown;
}

export interface LoggerOptions {
  /** Name of the process (`edge`, `router`, …); on every line. */
  readonly service: string;
  /** Default 'info'. */
  readonly level?: Level | 'silent';
  /** Where lines go; default stdout, written synchronously so nothing is lost on process.exit. */
  readonly destination?: DestinationStream;
  /** Extra fields on every line, e.g. `{ edgeId }` for an edge process. */
  readonly bindings?: LogBindings;
  /** Paths to censor (pino redact syntax), e.g. `['*.password']`. */
  readonly redact?: readonly string[];
}

/**
 * A pino logger writing one JSON object per line with `service`, `pid` and `hostname`. Humans read
 * it through `pino-pretty` on the command line; the process itself always writes JSON.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service, pid: process.pid, hostname: hostname(), ...options.bindings },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names rather than numbers: log stores and people filter on "error", not 50.
      formatters: { level: (label) => ({ level: label }) },
      ...(options.redact === undefined ? {} : { redact: [...options.redact] }),
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
