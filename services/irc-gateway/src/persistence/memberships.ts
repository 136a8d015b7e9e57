/** One XMPP user's presence in one IRC channel, as it must survive a gateway restart. */
export interface Membership {
  /** The user's bare JID. */
  readonly user: string;
  readonly server: string;
  /** The channel as the user named it (IRC compares channel names case-insensitively). */
  readonly channel: string;
  /** The nick the user joined with. */
  readonly nick: string;
  /** The full JIDs of the user's resources in the room (XEP-0045 occupants are per full JID). */
  readonly resources: readonly string[];
}

/** What a user configured for one IRC server through the ad-hoc command (XEP-0050). */
export interface ServerSettings {
  readonly nick?: string;
  readonly saslUsername?: string;
  readonly saslPassword?: string;
  /** Raw IRC lines sent after registration, e.g. `PRIVMSG NickServ :IDENTIFY secret`. */
  readonly afterConnect?: readonly string[];
}

/**
 * The gateway's state (ARCHITECTURE.md, "Embedded mode"): SQLite embedded and
 * Redis in the cluster, one contract suite (`memberships.contract.ts`).
 */
export interface Memberships {
  /** Every membership, for rejoining after a restart. */
  all(): Promise<Membership[]>;
  /** Stores or replaces the membership of (user, server, channel). */
  put(membership: Membership): Promise<void>;
  remove(user: string, server: string, channel: string): Promise<void>;
  settings(user: string, server: string): Promise<ServerSettings | null>;
  putSettings(user: string, server: string, settings: ServerSettings): Promise<void>;
  close(): Promise<void>;
}

/** IRC channel names compare case-insensitively (RFC 2812 §1.3); this is the key form. */
export const channelKey = (channel: string): string => channel.toLowerCase();
