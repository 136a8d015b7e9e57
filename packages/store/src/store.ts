/**
 * The storage contract of Switchboard: what the router (and the edge, for
 * SASL) may read and write about a user. Two drivers implement it, the
 * embedded SQLite one (`openEmbeddedStore`) and the Redis one
 * (`createRedisStore`); both pass `storeContract` in `store.contract.ts`, so
 * behaviour is the same in the single-process and the cluster mode.
 *
 * Conventions shared by every method:
 * - Users and contacts are passed as normalized bare JID strings (RFC 7622);
 *   the store compares them byte for byte and never normalizes.
 * - Every method is async, even on the synchronous embedded driver.
 * - Whenever a list is sorted, it is sorted by the UTF-8 bytes of its strings
 *   (SQLite's BINARY collation, Redis' lexicographic order), so pages and
 *   cursors agree between drivers.
 * - Failures the caller must map to XMPP are errors with a stable `name`
 *   (see `errors.ts`).
 * - The store does not check that a user has an account before storing
 *   roster, offline, private, vCard or blocklist data: the router only does
 *   that for local users. `AccountStore.delete` removes all of it.
 */

/** The SASL mechanisms we keep salted credentials for (RFC 5802, RFC 7677). */
export type ScramMechanism = 'SCRAM-SHA-1' | 'SCRAM-SHA-256';

/**
 * What a server keeps to verify SCRAM without knowing the password
 * (RFC 5802 §3): the iteration count, the salt, StoredKey = H(ClientKey) and
 * ServerKey = HMAC(SaltedPassword, "Server Key"). Binary values are base64.
 */
export interface ScramCredential {
  readonly iterations: number;
  readonly salt: string;
  readonly storedKey: string;
  readonly serverKey: string;
}

/** One credential per mechanism; never the password itself. */
export type Credentials = { readonly [M in ScramMechanism]: ScramCredential };

export interface Account {
  readonly jid: string;
  readonly credentials: Credentials;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
}

export interface AccountListOptions {
  /** Only accounts of this domain. */
  readonly domain?: string;
  /** Only bare JIDs starting with this string (the full bare JID, not just the localpart). */
  readonly prefix?: string;
  /** Page size; default 100. */
  readonly limit?: number;
  /** Cursor: only bare JIDs sorting after this one (the last JID of the previous page). */
  readonly after?: string;
}

export interface AccountStore {
  /**
   * Creates an account. Atomic: of two concurrent creates of one JID exactly
   * one succeeds and the other rejects with `AccountExistsError`. Only the
   * four SCRAM fields of each credential are stored, whatever else the
   * object carries. Rejects with `InvalidCredentialsError` on malformed input.
   */
  create(bareJid: string, credentials: Credentials): Promise<Account>;
  get(bareJid: string): Promise<Account | null>;
  /** Replaces the credentials (password change). Rejects with `AccountNotFoundError`. */
  setCredentials(bareJid: string, credentials: Credentials): Promise<void>;
  /**
   * Removes the account and everything stored for the user: roster (with its
   * versions), offline messages, private XML, vCard, blocklist, archive,
   * PEP nodes and push registrations. Resolves to whether an account existed.
   */
  delete(bareJid: string): Promise<boolean>;
  /** Bare JIDs sorted by UTF-8 bytes, one page at a time. */
  list(options?: AccountListOptions): Promise<string[]>;
  /** Number of accounts, of one domain or of all. */
  count(domain?: string): Promise<number>;
}

/** RFC 6121 §2.1.2.5. */
export type Subscription = 'none' | 'to' | 'from' | 'both';

/**
 * A roster item with the server-side subscription state of RFC 6121
 * Appendix A. Groups are a set: the store deduplicates and sorts them.
 */
export interface RosterItem {
  readonly jid: string;
  readonly name?: string;
  readonly subscription: Subscription;
  /** An outbound subscription request is pending (the "Pending Out" states, RFC 6121 §3.1.2). */
  readonly ask?: 'subscribe';
  /** An inbound subscription request awaits the user's answer ("Pending In", RFC 6121 §3.1.3). */
  readonly pendingIn?: boolean;
  /** The inbound subscribe stanza, redelivered at the user's next available presence (RFC 6121 §3.1.3). */
  readonly pendingInXml?: string;
  /** The user pre-approved the contact's subscription (RFC 6121 §3.4). */
  readonly approved?: boolean;
  readonly groups: readonly string[];
}

export interface Roster {
  /** Opaque to clients (RFC 6121 §2.6); `'0'` for a roster that was never written. */
  readonly version: string;
  /** Sorted by contact JID. */
  readonly items: RosterItem[];
}

export interface RosterUpdate {
  /** The item after the update; null when it was removed or is absent. */
  readonly item: RosterItem | null;
  /** The roster version after the update (unchanged when `changed` is false). */
  readonly version: string;
  readonly changed: boolean;
}

export interface RosterDelta {
  /** The current roster version. */
  readonly version: string;
  /** Items added or modified after the client's version (RFC 6121 §2.6.3: sent as roster pushes). */
  readonly items: RosterItem[];
  /** Contacts removed after the client's version (pushed with subscription='remove'). */
  readonly removed: string[];
}

/**
 * A mutation of one roster item. Gets the current item (null when absent)
 * and returns the new one, or null to remove it. It runs synchronously and may
 * run more than once on the Redis driver (optimistic retries), so it must be
 * free of side effects. The returned item must keep `jid` equal to the contact.
 */
export type RosterMutation = (current: RosterItem | null) => RosterItem | null;

export interface RosterStore {
  get(user: string): Promise<Roster>;
  getItem(user: string, contact: string): Promise<RosterItem | null>;
  /**
   * Atomic read-modify-write of one item: concurrent updates of a user's
   * roster are serialized, none is lost. Bumps the roster version only when
   * the item actually changed. Rejects with `RosterFullError` when adding an
   * item to a roster at its cap, with `InvalidRosterItemError` when the
   * mutation returns a malformed item, and with whatever `fn` throws.
   */
  update(user: string, contact: string, fn: RosterMutation): Promise<RosterUpdate>;
  /**
   * Roster versioning (RFC 6121 §2.6): what changed after `version`.
   * Null when the version is unknown, from an earlier incarnation of the
   * roster, or older than the oldest kept tombstone; the caller then sends
   * the whole roster.
   */
  changesSince(user: string, version: string): Promise<RosterDelta | null>;
}

/** A stanza stored for a user who was offline (XEP-0160). */
export interface OfflineMessage {
  /** Envelope id: unique, the key that makes storing idempotent. */
  readonly id: string;
  readonly xml: string;
  /** Milliseconds since the epoch, for the XEP-0203 delay stamp. */
  readonly ts: number;
}

export interface OfflineStore {
  /**
   * Appends a message. Idempotent by `id` while the message is stored:
   * resolves to false (and stores nothing) when that id is already queued.
   * Dropping re-deliveries of ids that were already removed is the job of the
   * router's applied-envelope set, not of this store. Rejects with
   * `OfflineFullError` when the user's queue is at its cap.
   */
  push(user: string, message: OfflineMessage): Promise<boolean>;
  /** The oldest `limit` messages (all by default), in arrival order. */
  list(user: string, limit?: number): Promise<OfflineMessage[]>;
  /** Removes messages by id once their delivery is durable; resolves to how many were removed. */
  remove(user: string, ids: readonly string[]): Promise<number>;
  count(user: string): Promise<number>;
}

/** XEP-0049 private XML storage; `key` is `"<element name> <namespace>"`. */
export interface PrivateXmlStore {
  get(user: string, key: string): Promise<string | null>;
  /** Rejects with `TooLargeError` or `PrivateStorageFullError` past the caps. */
  set(user: string, key: string, xml: string): Promise<void>;
  delete(user: string, key: string): Promise<void>;
}

/** XEP-0054 vCards, stored as the serialized `<vCard xmlns='vcard-temp'>` element. */
export interface VCardStore {
  get(user: string): Promise<string | null>;
  /** Rejects with `TooLargeError` past the size cap. */
  set(user: string, xml: string): Promise<void>;
  delete(user: string): Promise<void>;
}

/** XEP-0191 blocking command. */
export interface BlocklistStore {
  /** Blocked JIDs sorted by UTF-8 bytes. */
  list(user: string): Promise<string[]>;
  /** Rejects with `BlocklistFullError` when the list would exceed its cap (then nothing is added). */
  add(user: string, jids: readonly string[]): Promise<void>;
  remove(user: string, jids: readonly string[]): Promise<void>;
  clear(user: string): Promise<void>;
  /**
   * Whether stanzas from or to `jid` are blocked: true when the list holds
   * the address itself or a less specific form of it, matched as in
   * XEP-0016 §2.1 (XEP-0191 §3.4): full JID, bare JID, domain/resource, domain.
   */
  isBlocked(user: string, jid: string): Promise<boolean>;
}

/** A message kept in a user's archive (XEP-0313). */
export interface ArchivedMessage {
  /** The archive id, also the XEP-0359 stanza-id: unique per archive, the key that makes appending idempotent. */
  readonly id: string;
  /** Milliseconds since the epoch. */
  readonly ts: number;
  /** Bare JID of the other party (XEP-0313 §4.1.1 `with`). */
  readonly with: string;
  readonly xml: string;
}

/** Filters and a page of an archive query (XEP-0313 §4.1, XEP-0059 RSM). */
export interface ArchiveQuery {
  /** Only messages exchanged with this bare JID. */
  readonly with?: string;
  /** Only messages at or after this time (ms). */
  readonly start?: number;
  /** Only messages at or before this time (ms). */
  readonly end?: number;
  /** Only messages after the one with this id (RSM `after`, MAM `after-id`). */
  readonly afterId?: string;
  /** Only these messages, by archive id (XEP-0313 §4.1.1 `ids`). */
  readonly ids?: readonly string[];
  /** Only messages before the one with this id (RSM `before`, MAM `before-id`). */
  readonly beforeId?: string;
  /** Page size; 0 asks only for the count. */
  readonly max: number;
  /** Take the page from the end of the range (RSM `<before/>`): the last page first. */
  readonly fromEnd?: boolean;
}

export interface ArchivePage {
  /** In archive order, oldest first. */
  readonly messages: ArchivedMessage[];
  /** Size of the filtered result set, cursors ignored (XEP-0059 `<count>`). */
  readonly count: number;
  /** Position of the first message of the page in that set (XEP-0059 `<first index>`). */
  readonly firstIndex: number;
  /** No further page in the paging direction (XEP-0313 §4.3 `complete`). */
  readonly complete: boolean;
}

/** XEP-0313 §6 archiving preferences. */
export interface ArchivePrefs {
  readonly default: 'always' | 'never' | 'roster';
  readonly always: readonly string[];
  readonly never: readonly string[];
}

export interface ArchiveAppendOptions {
  /** Messages kept per user; the oldest go first. */
  readonly cap: number;
  /** Messages older than this (ms) are purged in the same operation (retention). */
  readonly notBefore?: number;
}

export interface ArchiveStore {
  /** Appends in arrival order; idempotent by id (false when the id is already archived). */
  append(user: string, message: ArchivedMessage, options: ArchiveAppendOptions): Promise<boolean>;
  /**
   * Appends many messages, of any users, in order, as `append` would one by
   * one but in one transaction (embedded) or one pipeline (Redis): the
   * router writes a batch's archive entries at once. Resolves to how many were new.
   */
  appendMany(
    entries: readonly { readonly user: string; readonly message: ArchivedMessage }[],
    options: ArchiveAppendOptions,
  ): Promise<number>;
  /** Rejects with `ArchiveItemNotFoundError` when a cursor id is not in the filtered set. */
  query(user: string, query: ArchiveQuery): Promise<ArchivePage>;
  /** Removes messages older than `before` (ms); resolves to how many. */
  purge(user: string, before: number): Promise<number>;
  count(user: string): Promise<number>;
  getPrefs(user: string): Promise<ArchivePrefs | null>;
  setPrefs(user: string, prefs: ArchivePrefs): Promise<void>;
}

/** Node configuration of a PEP node (XEP-0163, XEP-0060 §16.4 `pubsub#node_config`). */
export interface PepNodeConfig {
  readonly accessModel: 'presence' | 'open' | 'whitelist' | 'roster';
  readonly persistItems: boolean;
  readonly maxItems: number;
  /** `pubsub#send_last_published_item`; absent means `on_sub_and_presence` (XEP-0163 §4.3.4). */
  readonly sendLastPublishedItem?: 'never' | 'on_sub' | 'on_sub_and_presence';
}

/** A published item: `xml` is the `<item/>` element with its payload. */
export interface PepItem {
  readonly id: string;
  readonly xml: string;
  readonly ts: number;
}

export interface PepStore {
  getNode(user: string, node: string): Promise<PepNodeConfig | null>;
  /** Nodes sorted by name. */
  listNodes(user: string): Promise<{ node: string; config: PepNodeConfig }[]>;
  /** Creates or reconfigures a node; items past a lower `maxItems` are dropped, oldest first. */
  putNode(user: string, node: string, config: PepNodeConfig): Promise<void>;
  /** Removes the node and its items; resolves to whether it existed. */
  deleteNode(user: string, node: string): Promise<boolean>;
  /**
   * Stores an item as the node's newest (replacing one with the same id) and
   * keeps only the newest `maxItems` of the node's config. The node must exist.
   */
  publish(user: string, node: string, item: PepItem): Promise<void>;
  /** Newest first; at most `max` when given. */
  items(user: string, node: string, max?: number): Promise<PepItem[]>;
  item(user: string, node: string, id: string): Promise<PepItem | null>;
  retract(user: string, node: string, id: string): Promise<boolean>;
}

/** A XEP-0357 push registration: an app server JID, a node on it and publish-options. */
export interface PushRegistration {
  readonly jid: string;
  readonly node: string;
  /** The `<x xmlns='jabber:x:data'>` publish-options, serialized; '' when none. */
  readonly formXml: string;
  /** Resource of the session that enabled it (the device the app server wakes); '' when unknown. */
  readonly resource: string;
}

export interface PushStore {
  /** Sorted by jid, then node. */
  list(user: string): Promise<PushRegistration[]>;
  /** Adds or replaces the registration for (jid, node). */
  put(user: string, registration: PushRegistration): Promise<void>;
  /** Removes one node of `jid`, or all of `jid`'s registrations when `node` is undefined; resolves to how many. */
  remove(user: string, jid: string, node?: string): Promise<number>;
}

export interface Store {
  readonly accounts: AccountStore;
  readonly rosters: RosterStore;
  readonly offline: OfflineStore;
  readonly privateXml: PrivateXmlStore;
  readonly vcards: VCardStore;
  readonly blocklists: BlocklistStore;
  /** XEP-0313 message archive. */
  readonly archive: ArchiveStore;
  /** XEP-0163 personal eventing nodes and items. */
  readonly pep: PepStore;
  /** XEP-0357 push registrations. */
  readonly push: PushStore;
  /** Releases the database or connection; idempotent. */
  close(): Promise<void>;
}

/** Caps shared by both drivers; each guards memory or disk against one user. */
export interface StoreLimits {
  /** Offline messages per user; default 1000. */
  readonly offlineCap?: number;
  /** Roster items per user; default 1000. */
  readonly rosterCap?: number;
  /** Roster removals remembered for versioning; default `rosterCap`. Older versions get the full roster. */
  readonly rosterTombstoneCap?: number;
  /** Blocked JIDs per user; default 1000. */
  readonly blocklistCap?: number;
  /** Private XML keys per user; default 100. */
  readonly privateXmlCap?: number;
  /** Bytes (UTF-8) of one private XML value; default 64 KiB. */
  readonly privateXmlMaxBytes?: number;
  /** Bytes (UTF-8) of one vCard; default 256 KiB (it may carry a photo). */
  readonly vcardMaxBytes?: number;
}

export type ResolvedLimits = Required<StoreLimits>;

export function resolveLimits(limits: StoreLimits): ResolvedLimits {
  const rosterCap = limits.rosterCap ?? 1000;
  return {
    offlineCap: limits.offlineCap ?? 1000,
    rosterCap,
    rosterTombstoneCap: limits.rosterTombstoneCap ?? rosterCap,
    blocklistCap: limits.blocklistCap ?? 1000,
    privateXmlCap: limits.privateXmlCap ?? 100,
    privateXmlMaxBytes: limits.privateXmlMaxBytes ?? 64 * 1024,
    vcardMaxBytes: limits.vcardMaxBytes ?? 256 * 1024,
  };
}
