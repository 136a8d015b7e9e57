import { randomUUID } from 'node:crypto';
import type { Bus } from '@switchboard/bus';
import { JidError, parseJid } from '@switchboard/jid';
import { encodeDelivery, Streams, type CloseDelivery } from '@switchboard/protocol';
import { AccountExistsError, AccountNotFoundError, deriveCredentials, type Store } from '@switchboard/store';
import type { SessionRecord } from '../sessions/registry.js';
import type { ClusterView, ComponentInfo, Overview, StreamTotals } from './view.js';

/** Stable error names of the admin API (docs/admin-api.md, "Conventions"). */
export type AdminErrorName =
  | 'bad-request'
  | 'not-found'
  | 'conflict'
  | 'not-implemented'
  | 'upstream-unavailable'
  | 'sms-not-configured';

export class AdminError extends Error {
  override readonly name = 'AdminError';
  constructor(
    readonly code: AdminErrorName,
    message: string,
  ) {
    super(message);
  }
}

/** Stream error conditions an operator may close a session with (RFC 6120 §4.9.3). */
export const KICK_CONDITIONS = [
  'policy-violation',
  'conflict',
  'not-authorized',
  'reset',
  'system-shutdown',
] as const;
export type KickCondition = (typeof KICK_CONDITIONS)[number];

/** docs/admin-api.md, "Sessions". */
export interface SessionView {
  readonly jid: string;
  readonly user: string;
  readonly resource: string;
  readonly edgeId: string;
  readonly sessionId: string;
  readonly since: number;
  readonly available: boolean;
  readonly priority: number;
}

export interface UserPage {
  readonly users: readonly string[];
  readonly next: string | null;
}

export interface SmsQueueCounts {
  readonly waiting: number;
  readonly active: number;
  readonly delayed: number;
  readonly failed: number;
  readonly completed: number;
}

export interface Stats {
  readonly users: number;
  readonly sessions: number;
  readonly edges: number;
  readonly routers: number;
  readonly routeStreams: StreamTotals;
  readonly sms: SmsQueueCounts | null;
}

/** Everything the admin API and the CLI do, on either deployment. */
export interface AdminOperations {
  overview(): Promise<Overview>;
  stats(sms?: () => Promise<SmsQueueCounts | null>): Promise<Stats>;
  searchUsers(options: {
    query?: string;
    domain?: string;
    after?: string;
    limit?: number;
  }): Promise<UserPage>;
  getUser(jid: string): Promise<{ jid: string; sessions: SessionView[] }>;
  createUser(jid: string, password: string): Promise<string>;
  setPassword(jid: string, password: string): Promise<void>;
  deleteUser(jid: string): Promise<void>;
  sessions(options: { user?: string; limit?: number }): Promise<SessionView[]>;
  /** A full JID kicks that session, a bare JID every session of the account; resolves to the kicked JIDs. */
  kick(jid: string, condition?: KickCondition, text?: string): Promise<string[]>;
  components(): Promise<ComponentInfo[]>;
}

export interface AdminOperationsOptions {
  readonly view: ClusterView;
  readonly store: Store;
  /** Close orders go to `deliver:{edgeId}` on it. */
  readonly bus: Bus;
  /** Domains served; accounts are created only in them. Empty: any. */
  readonly domains: readonly string[];
  readonly now?: () => number;
}

export const MAX_PAGE = 1000;

export function createAdminOperations(options: AdminOperationsOptions): AdminOperations {
  const { view, store, bus, domains } = options;
  const now = options.now ?? Date.now;

  const bareJid = (text: string): string => {
    const jid = parse(text);
    if (jid.local === '' || jid.resource !== '')
      throw new AdminError('bad-request', `"${text}" is not a bare JID of the form user@domain`);
    return jid.toString();
  };

  const kickRecords = async (
    records: readonly SessionRecord[],
    condition: KickCondition,
    text: string,
  ): Promise<string[]> => {
    // The edge closes the stream with this stream error and ends the session (RFC 6120 §4.9.3).
    await bus.publishBatch(
      records.map((record) => {
        const order: CloseDelivery = {
          v: 1,
          kind: 'close',
          id: `admin-${randomUUID()}`,
          sessionId: record.sessionId,
          to: record.fullJid,
          condition,
          text,
          ts: now(),
        };
        return { stream: Streams.deliver(record.edgeId), payload: encodeDelivery(order) };
      }),
    );
    return records.map((r) => r.fullJid);
  };

  const ops: AdminOperations = {
    overview: () => view.overview(),
    async stats(sms) {
      const overview = await view.overview();
      return {
        users: await store.accounts.count(),
        sessions: overview.edges.reduce((sum, edge) => sum + edge.sessions, 0),
        edges: overview.edges.filter((e) => e.alive).length,
        routers: overview.routers.filter((r) => r.alive).length,
        routeStreams: await view.routeStreams(),
        sms: sms === undefined ? null : await sms().catch(() => null),
      };
    },
    async searchUsers({ query, domain, after, limit }) {
      const want = clampLimit(limit);
      const needle = query?.toLowerCase() ?? '';
      const users: string[] = [];
      let cursor = after;
      for (;;) {
        const page = await store.accounts.list({
          ...(domain === undefined ? {} : { domain }),
          ...(cursor === undefined ? {} : { after: cursor }),
          limit: 500,
        });
        for (const jid of page) {
          if (needle !== '' && !jid.toLowerCase().includes(needle)) continue;
          users.push(jid);
          if (users.length === want) return { users, next: jid };
        }
        if (page.length < 500) return { users, next: null };
        cursor = page[page.length - 1];
      }
    },
    async getUser(text) {
      const jid = bareJid(text);
      if ((await store.accounts.get(jid)) === null) throw new AdminError('not-found', `no account ${jid}`);
      return { jid, sessions: (await view.sessionsOf(jid)).map(toView) };
    },
    async createUser(text, password) {
      const jid = bareJid(text);
      const domain = jid.slice(jid.indexOf('@') + 1);
      if (domains.length > 0 && !domains.includes(domain))
        throw new AdminError('bad-request', `${domain} is not a domain this server serves`);
      if (password === '') throw new AdminError('bad-request', 'the password is empty');
      try {
        await store.accounts.create(jid, await deriveCredentials(password));
      } catch (error) {
        if (error instanceof AccountExistsError) throw new AdminError('conflict', `${jid} exists`);
        throw error;
      }
      return jid;
    },
    async setPassword(text, password) {
      const jid = bareJid(text);
      if (password === '') throw new AdminError('bad-request', 'the password is empty');
      try {
        await store.accounts.setCredentials(jid, await deriveCredentials(password));
      } catch (error) {
        if (error instanceof AccountNotFoundError) throw new AdminError('not-found', `no account ${jid}`);
        throw error;
      }
    },
    async deleteUser(text) {
      const jid = bareJid(text);
      if (!(await store.accounts.delete(jid))) throw new AdminError('not-found', `no account ${jid}`);
      await kickRecords(await view.sessionsOf(jid), 'not-authorized', 'account removed');
    },
    async sessions({ user, limit }) {
      const records =
        user === undefined ? await view.allSessions(clampLimit(limit)) : await view.sessionsOf(bareJid(user));
      return records.map(toView).sort((a, b) => a.jid.localeCompare(b.jid));
    },
    async kick(text, condition = 'policy-violation', reason = 'kicked by an operator') {
      const jid = parse(text);
      if (jid.local === '') throw new AdminError('bad-request', `"${text}" is not a user's JID`);
      const all = await view.sessionsOf(jid.bare().toString());
      const chosen = jid.resource === '' ? all : all.filter((r) => r.fullJid === jid.toString());
      if (chosen.length === 0) throw new AdminError('not-found', `no session ${jid.toString()}`);
      return kickRecords(chosen, condition, reason);
    },
    components: () => view.components(),
  };
  return ops;
}

function parse(text: string): ReturnType<typeof parseJid> {
  try {
    return parseJid(text);
  } catch (error) {
    if (error instanceof JidError)
      throw new AdminError('bad-request', `"${text}" is not a JID: ${error.message}`);
    throw error;
  }
}

function clampLimit(limit: number | undefined): number {
  return Math.max(1, Math.min(limit ?? 100, MAX_PAGE));
}

function toView(record: SessionRecord): SessionView {
  const slash = record.fullJid.indexOf('/');
  return {
    jid: record.fullJid,
    user: record.fullJid.slice(0, slash),
    resource: record.resource,
    edgeId: record.edgeId,
    sessionId: record.sessionId,
    since: record.since,
    available: record.available,
    priority: record.priority,
  };
}
