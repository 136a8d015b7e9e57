/**
 * Flood control per IRC connection: servers disconnect clients that send
 * faster than they allow ("Excess Flood"), so lines leave through a token
 * bucket of `burst` tokens refilled at `perSecond`.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly burst: number,
    readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (burst < 1 || perSecond <= 0)
      throw new RangeError('a token bucket needs burst ≥ 1 and a positive rate');
    this.tokens = burst;
    this.last = now();
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
  }

  /** Takes a token if one is there. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is there (0 if one is). */
  waitMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.perSecond) * 1000);
  }
}

/** Lines queued behind a token bucket, written in order as tokens come. */
export class ThrottledWriter {
  private readonly queue: string[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly bucket: TokenBucket,
    private readonly write: (line: string) => void,
    /** Most lines kept waiting; a flood beyond it is dropped rather than held in memory. */
    private readonly maxQueued = 1000,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  /** Queues `line`; false if the queue was full and it was dropped. */
  send(line: string): boolean {
    if (this.queue.length >= this.maxQueued) return false;
    this.queue.push(line);
    this.drain();
    return true;
  }

  private drain(): void {
    if (this.timer !== undefined) return;
    while (this.queue.length > 0 && this.bucket.tryTake()) this.write(this.queue.shift()!);
    if (this.queue.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drain();
    }, this.bucket.waitMs());
  }

  /** Drops what waits (the connection is gone). */
  clear(): void {
    this.queue.length = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
