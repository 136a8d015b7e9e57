/**
 * Store failures as values with stable names: callers switch on `name`
 * (or `instanceof`) and map them to XMPP errors in one place.
 */
export abstract class StoreError extends Error {
  abstract override readonly name: string;
}

/** The account exists already (in-band registration answers `conflict`, XEP-0077 §3.1). */
export class AccountExistsError extends StoreError {
  override readonly name = 'AccountExistsError';
  constructor(readonly jid: string) {
    super(`account ${jid} exists`);
  }
}

export class AccountNotFoundError extends StoreError {
  override readonly name = 'AccountNotFoundError';
  constructor(readonly jid: string) {
    super(`account ${jid} does not exist`);
  }
}

/** Credentials missing a mechanism or a field, or carrying a bad iteration count. */
export class InvalidCredentialsError extends StoreError {
  override readonly name = 'InvalidCredentialsError';
}

/** A roster mutation returned an item that cannot be stored (wrong jid, unknown subscription, …). */
export class InvalidRosterItemError extends StoreError {
  override readonly name = 'InvalidRosterItemError';
}

/** The roster is at its cap; the router answers `resource-constraint` / `not-allowed`. */
export class RosterFullError extends StoreError {
  override readonly name = 'RosterFullError';
  constructor(
    readonly user: string,
    readonly cap: number,
  ) {
    super(`roster of ${user} is full (${cap} items)`);
  }
}

/** The offline queue is at its cap; the router bounces the stanza (XEP-0160 §3). */
export class OfflineFullError extends StoreError {
  override readonly name = 'OfflineFullError';
  constructor(
    readonly user: string,
    readonly cap: number,
  ) {
    super(`offline storage of ${user} is full (${cap} messages)`);
  }
}

export class BlocklistFullError extends StoreError {
  override readonly name = 'BlocklistFullError';
  constructor(
    readonly user: string,
    readonly cap: number,
  ) {
    super(`blocklist of ${user} is full (${cap} items)`);
  }
}

export class PrivateStorageFullError extends StoreError {
  override readonly name = 'PrivateStorageFullError';
  constructor(
    readonly user: string,
    readonly cap: number,
  ) {
    super(`private storage of ${user} is full (${cap} keys)`);
  }
}

/** A vCard or private XML value larger than its cap (UTF-8 bytes). */
export class TooLargeError extends StoreError {
  override readonly name = 'TooLargeError';
  constructor(
    readonly what: 'vcard' | 'private',
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`${what} of ${bytes} bytes exceeds ${limit}`);
  }
}

/** An archive query's cursor names a message that is not in the result set (XEP-0313 §4.1.2: item-not-found). */
export class ArchiveItemNotFoundError extends StoreError {
  override readonly name = 'ArchiveItemNotFoundError';
  constructor(readonly id: string) {
    super(`no archived message ${id} in this result set`);
  }
}

/** A PEP publish to a node that was not created first. */
export class PepNodeNotFoundError extends StoreError {
  override readonly name = 'PepNodeNotFoundError';
  constructor(
    readonly user: string,
    readonly node: string,
  ) {
    super(`${user} has no PEP node ${node}`);
  }
}
