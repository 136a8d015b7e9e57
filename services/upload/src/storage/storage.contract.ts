// One behaviour for every FileStorage driver (ARCHITECTURE.md, "Tests": a contract suite per driver).
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SizeMismatchError, type FileStorage, type StoredFile } from './storage.js';

const newSlotId = (): string => randomBytes(16).toString('base64url');

function fileFor(bytes: Buffer, overrides: Partial<StoredFile> = {}): StoredFile {
  return {
    slotId: newSlotId(),
    filename: 'très cool.jpg',
    contentType: 'image/jpeg',
    size: bytes.length,
    owner: 'juliet@capulet.lit',
    createdAt: new Date(Math.floor(Date.now() / 1000) * 1000),
    ...overrides,
  };
}

/** Several chunks, as a network body arrives. */
function chunked(bytes: Buffer): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 16 * 1024) chunks.push(bytes.subarray(i, i + 16 * 1024));
  return Readable.from(chunks);
}

export function fileStorageContract(
  name: string,
  open: () => Promise<FileStorage>,
  cleanup: () => Promise<void>,
): void {
  describe(`FileStorage contract: ${name}`, () => {
    let storage: FileStorage;

    beforeAll(async () => {
      storage = await open();
    });

    afterAll(async () => {
      await storage?.close();
      await cleanup();
    });

    it('streams a file in and out with its metadata', async () => {
      const bytes = randomBytes(200 * 1024 + 17);
      const file = fileFor(bytes);
      expect(await storage.put(file, chunked(bytes))).toBe('stored');
      const stat = await storage.stat(file.slotId);
      expect(stat).toMatchObject({
        slotId: file.slotId,
        filename: file.filename,
        contentType: 'image/jpeg',
        size: bytes.length,
        owner: file.owner,
      });
      const body = await storage.read(file.slotId);
      expect(body).not.toBeNull();
      expect((await buffer(body!)).equals(bytes)).toBe(true);
    });

    it('reads a byte range', async () => {
      const bytes = Buffer.from('0123456789abcdef');
      const file = fileFor(bytes, { contentType: 'text/plain' });
      await storage.put(file, chunked(bytes));
      const part = await storage.read(file.slotId, { start: 3, end: 7 });
      expect((await buffer(part!)).toString()).toBe('34567');
    });

    it('writes a slot once: a second put is refused and the first file kept', async () => {
      const first = Buffer.from('first upload');
      const file = fileFor(first);
      expect(await storage.put(file, chunked(first))).toBe('stored');
      expect(await storage.put(file, chunked(Buffer.from('second uploa')))).toBe('exists');
      expect((await buffer((await storage.read(file.slotId))!)).toString()).toBe('first upload');
    });

    it('stores nothing when the body is shorter than promised', async () => {
      const file = fileFor(Buffer.alloc(100));
      await expect(storage.put(file, chunked(Buffer.alloc(60)))).rejects.toBeInstanceOf(Error);
      expect(await storage.stat(file.slotId)).toBeNull();
      expect(await storage.read(file.slotId)).toBeNull();
    });

    it('stores nothing when the body fails midway', async () => {
      const file = fileFor(Buffer.alloc(64 * 1024));
      const failing = new Readable({
        read() {
          this.push(Buffer.alloc(1024));
          this.destroy(new Error('connection reset'));
        },
      });
      await expect(storage.put(file, failing)).rejects.toBeInstanceOf(Error);
      expect(await storage.stat(file.slotId)).toBeNull();
    });

    it('answers null for slots it does not hold', async () => {
      const slotId = newSlotId();
      expect(await storage.stat(slotId)).toBeNull();
      expect(await storage.read(slotId)).toBeNull();
      expect(await storage.delete(slotId)).toBe(false);
    });

    it('deletes one file', async () => {
      const bytes = Buffer.from('delete me');
      const file = fileFor(bytes);
      await storage.put(file, chunked(bytes));
      expect(await storage.delete(file.slotId)).toBe(true);
      expect(await storage.stat(file.slotId)).toBeNull();
    });

    it('expires files created before the cutoff and keeps newer ones', async () => {
      const bytes = Buffer.from('old enough');
      const file = fileFor(bytes);
      await storage.put(file, chunked(bytes));
      // A cutoff in the past keeps it ...
      await storage.deleteOlderThan(new Date(Date.now() - 3600_000));
      expect(await storage.stat(file.slotId)).not.toBeNull();
      // ... one in the future (every file is older) deletes it and everything else.
      const deleted = await storage.deleteOlderThan(new Date(Date.now() + 3600_000));
      expect(deleted).toBeGreaterThanOrEqual(1);
      expect(await storage.stat(file.slotId)).toBeNull();
      expect(await storage.read(file.slotId)).toBeNull();
    });

    it('rejects keys that are not slot ids (no path traversal)', async () => {
      await expect(storage.stat('../../etc/passwd')).rejects.toThrow(/not a slot id/);
    });

    it('reports a size mismatch as SizeMismatchError when the body is longer', async () => {
      const file = fileFor(Buffer.alloc(10));
      await expect(storage.put(file, chunked(Buffer.alloc(20)))).rejects.toBeInstanceOf(SizeMismatchError);
      expect(await storage.stat(file.slotId)).toBeNull();
    });
  });
}
