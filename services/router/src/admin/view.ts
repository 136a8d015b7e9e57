import type { Bus } from '@switchboard/bus';
import { Groups, Streams } from '@switchboard/protocol';
import type { Store } from '@switchboard/store';
import type { SessionRecord, SessionRegistry } from '../sessions/registry.js';

/** docs/admin-api.md, `GET /overview` → `edges[]`. */
export interface EdgeInfo {
  readonly id: string;
  readonly lastHeartbeat: number;
  readonly alive: boolean;
  readonly connections: number;
  readonly sessions: number;
  readonly draining: boolean;
}

/** docs/admin-api.md, `GET /overview` → `routers[]`. */
export interface RouterInfo {
  readonly id: string;
  readonly lastHeartbeat: number;
  readonly alive: boolean;
  readonly partitions: readonly number[];
  readonly pending: number;
  readonly lag: number;
}

export interface RedisInfo {
  readonly usedMemoryBytes: number;
  readonly maxMemoryBytes: number;
  readonly aofEnabled: boolean;
}

export interface Overview {
  readonly mode: 'standalone' | 'cluster';
  readonly now: number;
  readonly edges: readonly EdgeInfo[];
  readonly routers: readonly RouterInfo[];
  readonly partitions: { readonly total: number; readonly unowned: readonly number[] };
  readonly redis: RedisInfo | null;
}

/** docs/admin-api.md, `GET /components`. */
export interface ComponentInfo {
  readonly domain: string;
  /** Null when this deployment cannot tell. */
  readonly connected: boolean | null;
  readonly consumers: number;
  readonly pending: number;
  readonly length: number;
}

export interface StreamTotals {
  readonly length: number;
  readonly pending: number;
}

/**
 * Where the admin operations read the deployment's live state: the process
 * itself (standalone) or Redis (cluster). Writes go through the bus and the
 * store, never through here.
 */
export interface ClusterView {
  readonly mode: 'standalone' | 'cluster';
  overview(): Promise<Overview>;
  sessionsOf(bareJid: string): Promise<readonly SessionRecord[]>;
  /** Online sessions, at most `limit`, in no particular order. */
  allSessions(limit: number): Promise<SessionRecord[]>;
  components(): Promise<ComponentInfo[]>;
  routeStreams(): Promise<StreamTotals>;
}

export interface EmbeddedViewOptions {
  readonly sessions: SessionRegistry;
  readonly store: Store;
  readonly bus: Bus;
  readonly edge: { readonly edgeId: string; connectionCount(): number; ready(): boolean };
  readonly router: { readonly ownedPartitions: readonly number[] };
  readonly partitions: number;
  readonly components: readonly string[];
  /** Components served inside this process (the SMS gateway): known to be attached. */
  readonly inProcessComponents?: readonly string[];
  readonly now?: () => number;
}

/**
 * The standalone's view: one edge, one router, sessions in memory. The memory
 * registry cannot enumerate, so listing walks the accounts: fine at the size
 * an embedded deployment has.
 */
export function createEmbeddedView(options: EmbeddedViewOptions): ClusterView {
  const { sessions, store, bus, edge, router } = options;
  const now = options.now ?? Date.now;
  const routeStreams = async (): Promise<StreamTotals> => {
    let length = 0;
    let pending = 0;
    for (let p = 0; p < options.partitions; p++) {
      length += await bus.length(Streams.route(p));
      pending += (await bus.pending(Streams.route(p), Groups.router).catch(() => ({ count: 0 }))).count;
    }
    return { length, pending };
  };
  const allSessions = async (limit: number): Promise<SessionRecord[]> => {
    const found: SessionRecord[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await store.accounts.list({ ...(after === undefined ? {} : { after }), limit: 500 });
      for (const bare of page) {
        for (const record of await sessions.list(bare)) {
          found.push(record);
          if (found.length >= limit) return found;
        }
      }
      if (page.length < 500) return found;
      after = page[page.length - 1];
    }
  };
  return {
    mode: 'standalone',
    async overview() {
      const t = now();
      const online = await allSessions(Number.MAX_SAFE_INTEGER);
      const streams = await routeStreams();
      return {
        mode: 'standalone',
        now: t,
        edges: [
          {
            id: edge.edgeId,
            lastHeartbeat: t,
            alive: true,
            connections: edge.connectionCount(),
            sessions: online.length,
            draining: !edge.ready(),
          },
        ],
        routers: [
          {
            id: 'standalone',
            lastHeartbeat: t,
            alive: true,
            partitions: [...router.ownedPartitions],
            pending: streams.pending,
            lag: 0,
          },
        ],
        partitions: {
          total: options.partitions,
          unowned: range(options.partitions).filter((p) => !router.ownedPartitions.includes(p)),
        },
        redis: null,
      };
    },
    sessionsOf: (bare) => sessions.list(bare),
    allSessions,
    async components() {
      const inProcess = new Set(options.inProcessComponents ?? []);
      const result: ComponentInfo[] = [];
      for (const domain of options.components) {
        const stream = Streams.service(domain);
        const summary = await bus.pending(stream, Groups.service).catch(() => null);
        result.push({
          domain,
          connected: inProcess.has(domain) ? true : null,
          consumers: summary === null ? 0 : Object.keys(summary.consumers).length,
          pending: summary?.count ?? 0,
          length: await bus.length(stream),
        });
      }
      return result;
    },
    routeStreams,
  };
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
