/**
 * Values encoded in this process, keyed by their encoding. The in-process bus hands the very
 * string a publisher encoded to the consumer, so decoding it again can return the value instead
 * of parsing and re-validating JSON (embedded mode's hot path: ARCHITECTURE.md, "Performance
 * budget"). Strings read from Redis are new strings: they miss and are parsed as usual.
 *
 * Each entry is taken at most once (a second decode of the same text parses it), and the map is
 * cleared when it reaches `limit`, so a consumer that lags costs a bounded amount of memory.
 *
 * Off unless {@link rememberEncodings} turns it on: a process whose stanzas go through Redis
 * would only hash and hold every string it publishes (keeping them past the young generation).
 */
let remembering = false;

/** Turns remembering on for a process whose bus hands strings over in memory (embedded mode). */
export function rememberEncodings(on: boolean): void {
  remembering = on;
}

export class RecentEncodings<T> {
  #values = new Map<string, T>();

  constructor(private readonly limit: number) {}

  remember(text: string, value: T): void {
    if (!remembering) return;
    if (this.#values.size >= this.limit) this.#values.clear();
    this.#values.set(text, value);
  }

  take(text: string): T | undefined {
    if (this.#values.size === 0) return undefined;
    const value = this.#values.get(text);
    if (value !== undefined) {
      this.#values.delete(text);
      // A fresh Map once the last entry is taken. With one long-lived Map, taken (deleted) entries
      // still survived young-generation GCs: at 10,000 msgs/s every envelope and delivery string
      // was promoted (~940 KB per scavenge, 3-4 ms pauses); with a fresh Map 68 KB and ~1 ms
      // (--trace-gc-nvp; bench/PROFILE.md).
      if (this.#values.size === 0) this.#values = new Map();
    }
    return value;
  }
}
