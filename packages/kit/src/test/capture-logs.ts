import type { DestinationStream } from 'pino';

export interface CapturedLogs {
  readonly destination: DestinationStream;
  /** Every line written so far, parsed. */
  readonly lines: Record<string, unknown>[];
}

/** A pino destination that keeps each line parsed, for asserting on what a logger wrote. */
export function captureLogs(): CapturedLogs {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    destination: {
      write(chunk: string) {
        for (const line of chunk.split('\n'))
          if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  };
}
