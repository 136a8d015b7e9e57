import type { Concatenation } from './udh.js';

export interface IncompleteMessage {
  readonly key: string;
  /** The parts that arrived, in order, with '[…]' where a part is missing. */
  readonly text: string;
  readonly missing: readonly number[];
}

interface Pending {
  readonly parts: (string | undefined)[];
  received: number;
  readonly timer: NodeJS.Timeout;
}

/**
 * Joins the parts of concatenated inbound messages (TS 23.040 §9.2.3.24.1).
 * `key` must name the sender, recipient and reference together: references
 * are only unique per sender. A message whose parts stop arriving is handed
 * to `onIncomplete` after `timeoutMs` rather than silently dropped.
 */
export class Reassembler {
  readonly #pending = new Map<string, Pending>();

  constructor(
    private readonly timeoutMs: number,
    private readonly onIncomplete: (message: IncompleteMessage) => void,
  ) {}

  /** Returns the whole text when this part completes its message, else undefined. */
  add(key: string, part: Concatenation, text: string): string | undefined {
    const id = `${key}|${part.ref}|${part.total}`;
    let pending = this.#pending.get(id);
    if (!pending) {
      const timer = setTimeout(() => this.#expire(id), this.timeoutMs);
      timer.unref();
      pending = { parts: new Array<string | undefined>(part.total).fill(undefined), received: 0, timer };
      this.#pending.set(id, pending);
    }
    // A redelivered part replaces the copy we hold instead of counting twice.
    if (pending.parts[part.seq - 1] === undefined) pending.received++;
    pending.parts[part.seq - 1] = text;
    if (pending.received < part.total) return undefined;
    clearTimeout(pending.timer);
    this.#pending.delete(id);
    return pending.parts.join('');
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Drops every partial message (on stop); their parts were acknowledged and are lost. */
  clear(): void {
    for (const p of this.#pending.values()) clearTimeout(p.timer);
    this.#pending.clear();
  }

  #expire(id: string): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    const missing: number[] = [];
    pending.parts.forEach((p, i) => {
      if (p === undefined) missing.push(i + 1);
    });
    this.onIncomplete({
      key: id.slice(0, id.lastIndexOf('|', id.lastIndexOf('|') - 1)),
      text: pending.parts.map((p) => p ?? '[…]').join(''),
      missing,
    });
  }
}
