import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@switchboard/kit';
import { createLocalStorage } from './storage/local.js';
import type { FileStorage } from './storage/storage.js';
import { createSweeper } from './sweeper.js';

const DAY = 24 * 3600 * 1000;
const logger = createLogger({ service: 'upload-test', level: 'silent' });

describe('the retention sweep', () => {
  let directory: string;
  let storage: FileStorage;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'switchboard-upload-sweep-'));
    storage = createLocalStorage({ directory });
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  const store = async (slotId: string): Promise<void> => {
    const bytes = Buffer.from(slotId);
    const file = {
      slotId,
      filename: 'f.txt',
      contentType: 'text/plain',
      size: bytes.length,
      owner: 'a@x',
      createdAt: new Date(),
    };
    expect(await storage.put(file, Readable.from([bytes]))).toBe('stored');
  };

  it('keeps files within retention and deletes them once they are older', async () => {
    await store('AAAAAAAAAAAAAAAAAAAAAA');
    await store('BBBBBBBBBBBBBBBBBBBBBB');
    let now = Date.now() + 29 * DAY;
    const sweeper = createSweeper({
      storage,
      retentionDays: 30,
      intervalSeconds: 3600,
      logger,
      now: () => now,
    });
    expect(await sweeper.sweep()).toBe(0);
    expect(await storage.stat('AAAAAAAAAAAAAAAAAAAAAA')).not.toBeNull();
    now = Date.now() + 31 * DAY;
    expect(await sweeper.sweep()).toBe(2);
    expect(await storage.stat('AAAAAAAAAAAAAAAAAAAAAA')).toBeNull();
    expect(await storage.stat('BBBBBBBBBBBBBBBBBBBBBB')).toBeNull();
  });

  it('keeps everything when retention is 0 (forever)', async () => {
    await store('CCCCCCCCCCCCCCCCCCCCCC');
    const sweeper = createSweeper({
      storage,
      retentionDays: 0,
      intervalSeconds: 3600,
      logger,
      now: () => Date.now() + 1000 * DAY,
    });
    expect(await sweeper.sweep()).toBe(0);
    expect(await storage.stat('CCCCCCCCCCCCCCCCCCCCCC')).not.toBeNull();
  });
});
