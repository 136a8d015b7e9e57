/** Where a batch goes: the phone, and the gateway number it talks to (the sender of the SMS). */
export interface BatchTarget {
  readonly phone: string;
  readonly via: string;
}

export interface LineBatcherOptions {
  /** How long the first line of a batch waits for company before the batch is sent. */
  readonly delayMs: number;
  /** Whether a text fits in one batch (e.g. at most N SMS segments). */
  readonly fits: (text: string) => boolean;
  /** Sends one batch (enqueues one SMS); batches to one target are sent in order, one at a time. */
  readonly send: (target: BatchTarget, text: string) => Promise<void>;
  readonly onError: (error: unknown, target: BatchTarget) => void;
}

interface Buffer {
  readonly target: BatchTarget;
  readonly lines: string[];
  timer?: NodeJS.Timeout;
}

/**
 * Collects the lines going to one phone into as few SMS as possible: a batch
 * is sent `delayMs` after its first line, or at once when the next line would
 * not fit (or the line is urgent, e.g. a command's answer). Every line is sent;
 * a line too long for one batch is split over several. Fewer, fuller SMS is how
 * room traffic stays inside the provider's rate limit.
 */
export class LineBatcher {
  readonly #buffers = new Map<string, Buffer>();
  readonly #chains = new Map<string, Promise<void>>();

  constructor(private readonly options: LineBatcherOptions) {}

  push(target: BatchTarget, line: string, urgent = false): void {
    const key = keyOf(target);
    for (const chunk of this.#split(line)) {
      let buffer = this.#buffers.get(key);
      if (buffer !== undefined && !this.options.fits([...buffer.lines, chunk].join('\n'))) {
        void this.#flush(key);
        buffer = undefined;
      }
      if (buffer === undefined) {
        buffer = { target, lines: [] };
        this.#buffers.set(key, buffer);
      }
      buffer.lines.push(chunk);
    }
    const buffer = this.#buffers.get(key);
    if (buffer === undefined) return;
    if (urgent) void this.#flush(key);
    else buffer.timer ??= setTimeout(() => void this.#flush(key), this.options.delayMs);
  }

  /** Forgets every unsent line to `phone` (it opted out). */
  drop(phone: string): void {
    for (const [key, buffer] of this.#buffers) {
      if (buffer.target.phone !== phone) continue;
      clearTimeout(buffer.timer);
      this.#buffers.delete(key);
    }
  }

  /** Lines waiting for their batch, over all targets. */
  get pendingLines(): number {
    let n = 0;
    for (const buffer of this.#buffers.values()) n += buffer.lines.length;
    return n;
  }

  /** Sends every waiting batch now and resolves when all sends finished (on shutdown). */
  async flushAll(): Promise<void> {
    for (const key of [...this.#buffers.keys()]) void this.#flush(key);
    await Promise.all([...this.#chains.values()]);
  }

  #flush(key: string): Promise<void> {
    const buffer = this.#buffers.get(key);
    if (buffer === undefined) return this.#chains.get(key) ?? Promise.resolve();
    this.#buffers.delete(key);
    clearTimeout(buffer.timer);
    const text = buffer.lines.join('\n');
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const chain = previous
      .then(() => this.options.send(buffer.target, text))
      .catch((error: unknown) => this.options.onError(error, buffer.target))
      .finally(() => {
        if (this.#chains.get(key) === chain) this.#chains.delete(key);
      });
    this.#chains.set(key, chain);
    return chain;
  }

  /** A line as pieces that each fit, broken at a space where one is near the end. */
  #split(line: string): string[] {
    const pieces: string[] = [];
    let rest = [...line];
    while (rest.length > 0 && !this.options.fits(rest.join(''))) {
      // Longest prefix that fits, by binary search over code points.
      let low = 1;
      let high = rest.length - 1;
      while (low < high) {
        const mid = Math.ceil((low + high) / 2);
        if (this.options.fits(rest.slice(0, mid).join(''))) low = mid;
        else high = mid - 1;
      }
      const space = rest.lastIndexOf(' ', low - 1);
      const cut = space > low / 2 ? space + 1 : low;
      pieces.push(rest.slice(0, cut).join('').trimEnd());
      rest = rest.slice(cut);
    }
    if (rest.length > 0) pieces.push(rest.join(''));
    return pieces;
  }
}

function keyOf(target: BatchTarget): string {
  return `${target.phone}\u0000${target.via}`;
}
