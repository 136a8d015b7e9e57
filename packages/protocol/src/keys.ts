/**
 * Stream and key names. Braces are Redis Cluster hash tags: every key of one
 * user carries `{bare JID}` so that user's keys share a slot
 * (ARCHITECTURE.md, "Delivery guarantees").
 */

/** Consumer group names, one per kind of reader. */
export const Groups = {
  router: 'router',
  edge: 'edge',
  service: 'service',
} as const;

export const Streams = {
  /** Stanzas for the router that owns partition `p`. */
  route: (partition: number): string => `route:{${partition}}`,
  /** Stanzas for the sessions on one edge. */
  deliver: (edgeId: string): string => `deliver:{${edgeId}}`,
  /** Stanzas for a component domain (sms., irc., conference., external components). */
  service: (domain: string): string => `svc:{${domain}}`,
} as const;

export const Keys = {
  /** Fenced lease on a route partition: value is `${owner}:${token}`. */
  partitionLease: (partition: number): string => `lease:{${partition}}`,
  /** Monotonic fencing token source for a partition's lease. */
  partitionFence: (partition: number): string => `fence:{${partition}}`,
  /** Routers currently alive (sorted set: member = routerId, score = last heartbeat ms). */
  routers: (): string => 'routers',
  /** Edges currently alive (sorted set: member = edgeId, score = last heartbeat ms). */
  edges: (): string => 'edges',
  /** Sessions of one account (hash: resource → session record). */
  sessions: (bareJid: string): string => `user:{${bareJid}}:sessions`,
  /** Sessions on one edge (set of full JIDs), for the janitor. */
  edgeSessions: (edgeId: string): string => `edge:{${edgeId}}:sessions`,
  /** Envelope ids already applied for a user, for idempotency. */
  applied: (bareJid: string): string => `user:{${bareJid}}:applied`,
  /** Prefix of every key of one user: account, roster, offline, vcard, private, blocklist. */
  user: (bareJid: string, what: string): string => `user:{${bareJid}}:${what}`,
} as const;
