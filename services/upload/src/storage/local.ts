import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  SizeMismatchError,
  assertSlotId,
  hashedPath,
  type ByteRange,
  type FileStorage,
  type PutOutcome,
  type StoredFile,
} from './storage.js';

export interface LocalStorageOptions {
  readonly directory: string;
}

interface MetadataFile {
  readonly filename: string;
  readonly contentType: string;
  readonly size: number;
  readonly owner: string;
  readonly createdAt: string;
}

const TEMP_DIR = '.incoming';
/** Partial uploads of a crashed process are removed by the sweep after this long. */
const STALE_TEMP_MS = 24 * 3600 * 1000;

/**
 * Uploads under `<directory>/<aa>/<bb>/<slotId>` with a `<slotId>.json` beside
 * it. Bytes go to a temp file first and appear under their final name in one
 * step, so a reader never sees half a file.
 */
export function createLocalStorage(options: LocalStorageOptions): FileStorage {
  const root = options.directory;
  const tempDir = join(root, TEMP_DIR);
  const dataPath = (slotId: string): string => {
    assertSlotId(slotId);
    return join(root, ...hashedPath(slotId), slotId);
  };

  async function readMetadata(slotId: string): Promise<StoredFile | null> {
    let text: string;
    try {
      // The data file is the commit point: metadata alone is a put still finishing.
      await stat(dataPath(slotId));
      text = await readFile(`${dataPath(slotId)}.json`, 'utf8');
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
    const meta = JSON.parse(text) as MetadataFile;
    return {
      slotId,
      filename: meta.filename,
      contentType: meta.contentType,
      size: meta.size,
      owner: meta.owner,
      createdAt: new Date(meta.createdAt),
    };
  }

  async function removeFile(path: string): Promise<boolean> {
    try {
      await unlink(path);
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  return {
    kind: 'local',
    stat: readMetadata,
    async put(file: StoredFile, body: Readable): Promise<PutOutcome> {
      const final = dataPath(file.slotId);
      if (await exists(final)) {
        body.resume();
        return 'exists';
      }
      await Promise.all([mkdir(tempDir, { recursive: true }), mkdir(join(final, '..'), { recursive: true })]);
      const temp = join(tempDir, `${file.slotId}.${randomBytes(6).toString('hex')}`);
      try {
        await pipeline(body, createWriteStream(temp, { flags: 'wx' }));
        const written = (await stat(temp)).size;
        if (written !== file.size) throw new SizeMismatchError(file.size, written);
        const meta: MetadataFile = {
          filename: file.filename,
          contentType: file.contentType,
          size: file.size,
          owner: file.owner,
          createdAt: file.createdAt.toISOString(),
        };
        await writeFile(`${temp}.json`, JSON.stringify(meta));
        await rename(`${temp}.json`, `${final}.json`);
        // link() rather than rename(): it fails when the name exists, so two PUTs racing
        // for one slot cannot both win, and the loser learns it (HTTP 409).
        try {
          await link(temp, final);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
          throw error;
        }
        return 'stored';
      } finally {
        await rm(temp, { force: true });
        await rm(`${temp}.json`, { force: true });
      }
    },
    async read(slotId: string, range?: ByteRange): Promise<Readable | null> {
      const path = dataPath(slotId);
      if (!(await exists(path))) return null;
      const stream = createReadStream(
        path,
        range === undefined ? {} : { start: range.start, end: range.end },
      );
      // Opening can still fail if the sweep removed the file in between: report that as absent.
      return new Promise((resolve, reject) => {
        stream.once('ready', () => resolve(stream));
        stream.once('error', (error) => (isNotFound(error) ? resolve(null) : reject(error)));
      });
    },
    async delete(slotId: string): Promise<boolean> {
      const path = dataPath(slotId);
      const removed = await removeFile(path);
      await removeFile(`${path}.json`);
      return removed;
    },
    async deleteOlderThan(cutoff: Date): Promise<number> {
      let deleted = 0;
      for (const first of await listDir(root)) {
        if (first === TEMP_DIR) continue;
        for (const second of await listDir(join(root, first))) {
          const dir = join(root, first, second);
          for (const name of await listDir(dir)) {
            if (name.endsWith('.json')) continue;
            const info = await stat(join(dir, name)).catch(() => null);
            if (info === null || info.mtime >= cutoff) continue;
            if (await removeFile(join(dir, name))) deleted += 1;
            await removeFile(join(dir, `${name}.json`));
          }
        }
      }
      const staleBefore = Math.min(cutoff.getTime(), Date.now() - STALE_TEMP_MS);
      for (const name of await listDir(tempDir)) {
        const info = await stat(join(tempDir, name)).catch(() => null);
        if (info !== null && info.mtime.getTime() < staleBefore) await removeFile(join(tempDir, name));
      }
      return deleted;
    },
    close: () => Promise.resolve(),
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
