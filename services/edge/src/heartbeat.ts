import { Keys } from '@switchboard/protocol';

/**
 * The commands the heartbeat needs; an ioredis `Redis` satisfies it. Kept
 * structural so the edge needs no Redis client of its own type here.
 */
export interface HeartbeatRedis {
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  zrem(key: string, ...members: string[]): Promise<number>;
}

export interface EdgeHeartbeatOptions {
  readonly redis: HeartbeatRedis;
  readonly edgeId: string;
  /** Default 1000; keep it well under the routers' janitor timeout (10 s by default). */
  readonly intervalMs?: number;
  /** Heartbeat failures (Redis unreachable); the heartbeat keeps trying. */
  readonly onError?: (error: unknown) => void;
}

export interface EdgeHeartbeat {
  /** Resolves after the next heartbeat has been written. */
  beat(): Promise<void>;
  /**
   * Stops beating and removes the edge from `Keys.edges()`. Call it on clean
   * shutdown after the edge published its sessions' session-ends: without a
   * heartbeat entry the janitor leaves the edge alone. Idempotent.
   */
  stop(): Promise<void>;
}

// Scored with the Redis server's clock, the one the routers' janitor compares against.
const BEAT = `local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1])
return 1`;

/**
 * Tells the routers this edge is alive (ARCHITECTURE.md, "Delivery
 * guarantees"): member `edgeId` of `Keys.edges()`, score = last heartbeat
 * in ms. An edge silent past the timeout is dead to the janitor, which ends
 * its sessions and re-routes what was queued for them. The first beat is
 * sent at once.
 */
export function startEdgeHeartbeat(options: EdgeHeartbeatOptions): EdgeHeartbeat {
  const { redis, edgeId } = options;
  let stopped = false;
  let inFlight: Promise<void> | undefined;

  const beat = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    inFlight ??= redis
      .eval(BEAT, 1, Keys.edges(), edgeId)
      .then(() => undefined)
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
  const tick = (): void => {
    if (stopped) return;
    beat().catch((error: unknown) => options.onError?.(error));
  };
  const timer = setInterval(tick, options.intervalMs ?? 1000);
  tick();

  let stopping: Promise<void> | undefined;
  return {
    beat,
    stop() {
      stopping ??= (async () => {
        stopped = true;
        clearInterval(timer);
        // A beat still in flight must not re-add the member after the removal.
        await inFlight?.catch(() => undefined);
        await redis.zrem(Keys.edges(), edgeId);
      })();
      return stopping;
    },
  };
}
