/**
 * What the gateway remembers: who registered which number (XEP-0077), who
 * opted out (STOP), and which sent SMS still waits for a delivery report.
 * Numbers are E.164 with the leading '+'; JIDs are bare and normalized.
 */
export interface Registration {
  readonly jid: string;
  readonly number: string;
  /** Provider credentials the user gave at registration (XEP-0077 `username`/`password`), where the provider needs them. */
  readonly account?: Readonly<Record<string, string>>;
}

/** A sent SMS whose delivery report is still to come (one record per provider message id). */
export interface SentRecord {
  /** Full JID of the XMPP sender, who gets the receipt or the error. */
  readonly sender: string;
  /** The contact JID (`+E164@sms.<domain>`) the message was addressed to. */
  readonly contact: string;
  /** The id of the sender's stanza, echoed in the receipt (XEP-0184 §4) or the error. */
  readonly stanzaId: string;
  readonly wantReceipt: boolean;
  /** Every provider id of the message (one per segment for SMPP): the first report settles all of them. */
  readonly providerMessageIds: readonly string[];
}

/** A number a user claimed and has not proven yet: the gateway texted it a code (issue #6 verification). */
export interface PendingVerification {
  readonly jid: string;
  readonly number: string;
  /** Provider credentials submitted with the number; they become the registration's account. */
  readonly account?: Readonly<Record<string, string>>;
  /** SHA-256 (hex) of the code bound to the JID and number; the code itself is never stored. */
  readonly codeHash: string;
  /** Epoch ms after which the code no longer counts. */
  readonly expiresAt: number;
  /** Wrong codes tried so far. */
  readonly failures: number;
}

/** The last HELP a contact texted to one of the gateway's numbers, and how many it sent. */
export interface HelpRecord {
  readonly at: number;
  readonly count: number;
}

export interface Registrations {
  get(jid: string): Promise<Registration | null>;
  /** Every registration (presence to all users when the gateway starts and stops). */
  list(): Promise<Registration[]>;
  /** The registration that owns `number`, null when nobody registered it. */
  byNumber(number: string): Promise<Registration | null>;
  /**
   * Creates or changes `registration.jid`'s registration; the old number (if
   * another) is released. Throws {@link NumberTakenError} when another JID holds the number.
   */
  put(registration: Registration): Promise<void>;
  /** Removes the registration; false when there was none. */
  remove(jid: string): Promise<boolean>;
  /** Records STOP (true) or START (false) from `contact` for messages from `own` (CTIA/TCPA opt-out). */
  setOptOut(contact: string, own: string, optedOut: boolean): Promise<void>;
  isOptedOut(contact: string, own: string): Promise<boolean>;
  /** Every recorded opt-out: `contact` sent STOP to `own`. */
  listOptOuts(): Promise<{ contact: string; own: string }[]>;
  /** Remembers a sent message under each of its provider ids, for at most `ttlMs`. */
  rememberSent(record: SentRecord, ttlMs: number): Promise<void>;
  /** Takes (and forgets, with its sibling ids) the record a delivery report names; null when unknown or already taken. */
  takeSent(providerMessageId: string): Promise<SentRecord | null>;
  /** Starts or replaces `pending.jid`'s number verification; it is forgotten after `pending.expiresAt`. */
  putVerification(pending: PendingVerification): Promise<void>;
  /** The JID's pending verification; null when there is none or it expired. */
  getVerification(jid: string): Promise<PendingVerification | null>;
  /** Counts one wrong code, atomically; the failures so far (0 when nothing is pending). */
  failVerification(jid: string): Promise<number>;
  removeVerification(jid: string): Promise<void>;
  /**
   * Counts one verification code sent for `jid` in a fixed window of `windowMs`
   * (starting at the first code); the count in the window, this one included.
   */
  countCodeSend(jid: string, windowMs: number): Promise<number>;
  /** Records a HELP keyword from `contact` to `own` (kept like STOP/START: last time and count). */
  recordHelp(contact: string, own: string, at: number): Promise<void>;
  lastHelp(contact: string, own: string): Promise<HelpRecord | null>;
  close(): Promise<void>;
}

/** put() found the number registered by another JID; maps to `conflict` (XEP-0077 §3.1). */
export class NumberTakenError extends Error {
  override readonly name = 'NumberTakenError';
  constructor(readonly number: string) {
    super(`${number} is registered by another user`);
  }
}
