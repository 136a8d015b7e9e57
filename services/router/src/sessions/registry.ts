/**
 * Who is online: one record per bound resource of an account. All reads and
 * writes for user X happen in X's route partition, by the one router owning
 * it (ARCHITECTURE.md, "A stanza's walk"), so a driver may keep a
 * write-through cache; `forget` drops it when partitions move.
 * Records are immutable values: writers replace them.
 */
export interface SessionRecord {
  readonly resource: string;
  readonly fullJid: string;
  readonly edgeId: string;
  readonly sessionId: string;
  /** The session sent available presence and has not sent unavailable since (RFC 6121 §4.2). */
  readonly available: boolean;
  /** From its last available presence (RFC 6121 §4.7.2.3); 0 until then. */
  readonly priority: number;
  /** Its last broadcast presence, `from` stamped, no `to`; '' before initial presence. */
  readonly presenceXml: string;
  /** It requested the roster, so it gets roster pushes (RFC 6121 §2.1.6). */
  readonly interestedInRoster: boolean;
  /** It requested the blocklist, so it gets blocklist pushes (XEP-0191 §3.3). */
  readonly interestedInBlocklist: boolean;
  /** Initial presence was processed (probes sent, offline messages delivered). */
  readonly initialPresenceSent: boolean;
  /** Entities it sent directed available presence to (RFC 6121 §4.6): they get its unavailable. */
  readonly directedTo: readonly string[];
  /** When the session bound, ms since the epoch. */
  readonly since: number;
  /**
   * The connection is gone and the session waits for a XEP-0198 resume: stanzas still queue for
   * it on its edge, but a push (XEP-0357) is what reaches the device now. Absent means false.
   */
  readonly detached?: boolean;
  /** The client said it is inactive (XEP-0352): its edge holds back what is not urgent. Absent means false. */
  readonly inactive?: boolean;
}

/** XEP-0012: when the user's last session ended, and the status it left with. */
export interface LastActivity {
  readonly ts: number;
  readonly status: string;
}

export interface SessionRegistry {
  /** Every session of the account, in no particular order; empty when offline. */
  list(bareJid: string): Promise<readonly SessionRecord[]>;
  /** What `list` would resolve to when it is known without a read (cached); undefined otherwise. */
  peek(bareJid: string): readonly SessionRecord[] | undefined;
  get(bareJid: string, resource: string): Promise<SessionRecord | null>;
  /** Adds or replaces the record for `record.resource`. */
  put(bareJid: string, record: SessionRecord): Promise<void>;
  /** Removes the resource's record; resolves to the removed record. */
  remove(bareJid: string, resource: string): Promise<SessionRecord | null>;
  getLastActivity(bareJid: string): Promise<LastActivity | null>;
  setLastActivity(bareJid: string, last: LastActivity): Promise<void>;
  /** Drops cached state of users for whom `keep` is false (their partition moved away). */
  forget(keep: (bareJid: string) => boolean): void;
  close(): Promise<void>;
}

export function newSession(
  fullJid: string,
  resource: string,
  edgeId: string,
  sessionId: string,
  since: number,
): SessionRecord {
  return {
    resource,
    fullJid,
    edgeId,
    sessionId,
    available: false,
    priority: 0,
    presenceXml: '',
    interestedInRoster: false,
    interestedInBlocklist: false,
    initialPresenceSent: false,
    directedTo: [],
    since,
  };
}
