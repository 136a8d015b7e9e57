/**
 * Remembers recent sends by idempotency key so a repeated job in this process
 * returns the first result instead of sending again. A failed send is
 * forgotten so that its retry does send. Bounded: the oldest keys go first.
 */
export class IdempotencyCache<T> {
  readonly #entries = new Map<string, Promise<T>>();

  constructor(private readonly capacity: number) {}

  run(key: string, action: () => Promise<T>): Promise<T> {
    const existing = this.#entries.get(key);
    if (existing) return existing;
    const result = action();
    this.#entries.set(key, result);
    result.catch(() => {
      if (this.#entries.get(key) === result) this.#entries.delete(key);
    });
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    return result;
  }
}
