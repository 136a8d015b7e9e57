/**
 * A bounded cache with two generations (the "hashlru" scheme): lookups fill
 * the young generation; when it is full the old one is dropped and the young
 * one becomes old. Entries in use survive by being copied forward on a hit.
 * Every operation is O(1) with no per-hit reordering, which is what makes it
 * pay off against parsing (measured in README.md).
 */
export class ParseCache<V> {
  #young = new Map<string, V>();
  #old = new Map<string, V>();

  constructor(private readonly generationSize: number) {}

  get(key: string): V | undefined {
    const young = this.#young.get(key);
    if (young !== undefined) return young;
    const old = this.#old.get(key);
    if (old !== undefined) this.#put(key, old);
    return old;
  }

  set(key: string, value: V): void {
    this.#put(key, value);
  }

  get size(): number {
    return this.#young.size + this.#old.size;
  }

  #put(key: string, value: V): void {
    if (this.#young.size >= this.generationSize) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
  }
}
