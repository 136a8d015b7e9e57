/**
 * What the MUC service keeps across restarts: each room's configuration,
 * affiliations and subject (XEP-0045 §10), and its message archive
 * (XEP-0313), which also serves discussion history on join (XEP-0045 §7.2.14).
 * Occupants are not stored: they are presence, which ends with the process.
 * Room JIDs are bare and normalized; affiliation keys are bare JIDs.
 */

export type Affiliation = 'owner' | 'admin' | 'member' | 'outcast' | 'none';
export type Role = 'moderator' | 'participant' | 'visitor' | 'none';
/** Who may send private messages (muc#roomconfig_allowpm). */
export type PmPolicy = 'anyone' | 'participants' | 'moderators' | 'none';

/** A room's configuration: the fields of the muc#roomconfig form (XEP-0045 §15.5.3). */
export interface RoomConfig {
  readonly name: string;
  readonly description: string;
  readonly persistent: boolean;
  /** Listed in the service's disco#items (muc_public) or not (muc_hidden). */
  readonly public: boolean;
  readonly membersOnly: boolean;
  readonly moderated: boolean;
  /** '' = no password (muc_unsecured). */
  readonly password: string;
  /** Who may see occupants' real JIDs: semi-anonymous (moderators) or non-anonymous (anyone). */
  readonly whois: 'moderators' | 'anyone';
  readonly changeSubject: boolean;
  readonly allowInvites: boolean;
  readonly allowPm: PmPolicy;
  /** 0 = no limit. */
  readonly maxUsers: number;
  /** Public logging (status 170); the archive is kept either way. */
  readonly logging: boolean;
  readonly language: string;
}

export interface RoomSubject {
  readonly text: string;
  /** Nick of the occupant who set it, '' when set by the room. */
  readonly nick: string;
  readonly ts: number;
}

export interface RoomRecord {
  readonly jid: string;
  readonly config: RoomConfig;
  /** bare JID → affiliation other than none. */
  readonly affiliations: Readonly<Record<string, Exclude<Affiliation, 'none'>>>;
  readonly subject: RoomSubject | null;
  readonly createdAt: number;
}

/** One groupchat message as the room reflected it. */
export interface ArchivedMessage {
  /** The XEP-0359 stanza-id the room assigned, also the XEP-0313 result id. */
  readonly id: string;
  readonly ts: number;
  readonly nick: string;
  /** The sender's real bare JID. */
  readonly realJid: string;
  /** The reflected message without `to`, as serialized XML. */
  readonly xml: string;
}

export interface ArchiveQuery {
  /** Inclusive bounds in ms (XEP-0313 §4.1.1 start/end). */
  readonly start?: number;
  readonly end?: number;
  /** Only messages from this occupant JID (room/nick) or real bare JID. */
  readonly with?: string;
  /** RSM (XEP-0059): after this id. */
  readonly after?: string;
  /** RSM: before this id; '' = the last page. */
  readonly before?: string;
  readonly max: number;
}

export interface ArchivePage {
  /** Oldest first. */
  readonly messages: readonly ArchivedMessage[];
  /** True when no more messages match in the paging direction (XEP-0313 §4.3 `complete`). */
  readonly complete: boolean;
}

export interface MucStorage {
  getRoom(jid: string): Promise<RoomRecord | null>;
  /** Creates or replaces the record. */
  putRoom(record: RoomRecord): Promise<void>;
  /** Removes the room and its archive. */
  deleteRoom(jid: string): Promise<void>;
  listRooms(): Promise<RoomRecord[]>;
  appendMessage(room: string, message: ArchivedMessage): Promise<void>;
  queryArchive(room: string, query: ArchiveQuery): Promise<ArchivePage>;
  /** False when `id` is not in the room's archive (RSM item-not-found). */
  hasMessage(room: string, id: string): Promise<boolean>;
  close(): Promise<void>;
}
