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

export interface Registrations {
  get(jid: string): Promise<Registration | null>;
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
  /** Remembers a sent message under each of its provider ids, for at most `ttlMs`. */
  rememberSent(record: SentRecord, ttlMs: number): Promise<void>;
  /** Takes (and forgets, with its sibling ids) the record a delivery report names; null when unknown or already taken. */
  takeSent(providerMessageId: string): Promise<SentRecord | null>;
  close(): Promise<void>;
}

/** put() found the number registered by another JID; maps to `conflict` (XEP-0077 §3.1). */
export class NumberTakenError extends Error {
  override readonly name = 'NumberTakenError';
  constructor(readonly number: string) {
    super(`${number} is registered by another user`);
  }
}
