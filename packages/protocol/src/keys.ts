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
  /** s2s nodes reading the outbound federation streams. */
  s2s: 's2s',
} as const;

export const Streams = {
  /** Stanzas for the router that owns partition `p`. */
  route: (partition: number): string => `route:{${partition}}`,
  /** Stanzas for the sessions on one edge. */
  deliver: (edgeId: string): string => `deliver:{${edgeId}}`,
  /** Stanzas for a component domain (sms., irc., conference., external components). */
  service: (domain: string): string => `svc:{${domain}}`,
  /**
   * Stanzas for remote domains (federation), partitioned by the remote domain
   * (`partitionOf(domain, s2sPartitions)`) so one s2s node owns each domain's connection.
   */
  s2s: (partition: number): string => `s2s:{${partition}}`,
} as const;

export const Keys = {
  /** Fenced lease on a route partition: value is `${owner}:${token}`. */
  partitionLease: (partition: number): string => `lease:{${partition}}`,
  /** Monotonic fencing token source for a partition's lease. */
  partitionFence: (partition: number): string => `fence:{${partition}}`,
  /** Routers currently alive (sorted set: member = routerId, score = last heartbeat ms). */
  routers: (): string => 'routers',
  /** Fenced lease on an s2s partition (`Streams.s2s(p)`): value is `${nodeId}:${token}`. */
  s2sLease: (partition: number): string => `s2s:lease:{${partition}}`,
  /** Monotonic fencing token source for an s2s partition's lease. */
  s2sFence: (partition: number): string => `s2s:fence:{${partition}}`,
  /** s2s nodes currently alive (sorted set: member = nodeId, score = last heartbeat ms). */
  s2sNodes: (): string => 's2s:nodes',
  /** XEP-0185 dialback secret shared by every s2s node of the cluster, when none is configured. */
  s2sDialbackSecret: (): string => 's2s:dialback-secret',
  /** Edges currently alive (sorted set: member = edgeId, score = last heartbeat ms). */
  edges: (): string => 'edges',
  /** Sessions of one account (hash: resource → session record). */
  sessions: (bareJid: string): string => `user:{${bareJid}}:sessions`,
  /** What an edge reports with its heartbeat for operators (hash: connections, draining, ts); expires. */
  edgeStatus: (edgeId: string): string => `edge:{${edgeId}}:status`,
  /** Sessions on one edge (set of full JIDs), for the janitor. */
  edgeSessions: (edgeId: string): string => `edge:{${edgeId}}:sessions`,
  /** Envelope ids already applied for a user, for idempotency. */
  applied: (bareJid: string): string => `user:{${bareJid}}:applied`,
  /**
   * XEP-0198 resumption state of one session (hash: bare, jid, edge, epoch, in, acked, sent),
   * written by the edge that holds the session, taken over by the edge it resumes on.
   */
  resumption: (sessionId: string): string => `sm:{${sessionId}}`,
  /** Its unacknowledged outbound stanzas, oldest first (list of JSON `{id, xml, ts}`). */
  resumptionQueue: (sessionId: string): string => `sm:{${sessionId}}:q`,
  /** The inbound count of an ended resumable session, for `<failed h=…/>` (XEP-0198 §5). */
  resumptionGone: (sessionId: string): string => `sm:{${sessionId}}:gone`,
  /** Prefix of every key of one user: account, roster, offline, vcard, private, blocklist. */
  user: (bareJid: string, what: string): string => `user:{${bareJid}}:${what}`,
} as const;
