import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

/** What is known about a stored upload besides its bytes. */
export interface StoredFile {
  readonly slotId: string;
  readonly filename: string;
  readonly contentType: string;
  readonly size: number;
  /** Bare JID of the uploader. */
  readonly owner: string;
  readonly createdAt: Date;
}

/** Inclusive byte range (RFC 9110 §14.1.2). */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

export type PutOutcome = 'stored' | 'exists';

/**
 * Where uploads live (one interface, two drivers: a local directory and an
 * S3-compatible bucket; both pass `storage.contract.ts`). Bodies are streamed
 * in and out, never held whole in memory.
 */
export interface FileStorage {
  readonly kind: 'local' | 's3';
  /** The file's metadata, or null if no complete upload exists for the slot. */
  stat(slotId: string): Promise<StoredFile | null>;
  /**
   * Streams `body` (exactly `file.size` bytes) into storage. A slot is
   * written once: 'exists' when it already holds a file. Rejects (storing
   * nothing) when the body fails or its length differs from `file.size`.
   */
  put(file: StoredFile, body: Readable): Promise<PutOutcome>;
  /** The file's bytes (or a range of them); null when absent. */
  read(slotId: string, range?: ByteRange): Promise<Readable | null>;
  /** Deletes one upload; false when there was none. */
  delete(slotId: string): Promise<boolean>;
  /** Deletes every upload created before `cutoff`; resolves to how many. */
  deleteOlderThan(cutoff: Date): Promise<number>;
  close(): Promise<void>;
}

/** Raised by put() when the body's length is not the size promised for the slot. */
export class SizeMismatchError extends Error {
  override readonly name = 'SizeMismatchError';
  constructor(
    readonly expected: number,
    readonly received: number,
  ) {
    super(`expected ${expected} bytes, received ${received}`);
  }
}

/** 16 random bytes, base64url: what `newSlotId` makes and the only shape storage accepts. */
export const SLOT_ID = /^[A-Za-z0-9_-]{22}$/;

/**
 * Two levels of directories from a hash of the slot id, so no directory
 * grows past a few thousand entries (256 × 256 buckets).
 */
export function hashedPath(slotId: string): readonly [string, string] {
  const digest = createHash('sha256').update(slotId).digest('hex');
  return [digest.slice(0, 2), digest.slice(2, 4)];
}

export function assertSlotId(slotId: string): void {
  if (!SLOT_ID.test(slotId)) throw new Error(`not a slot id: ${slotId}`);
}
