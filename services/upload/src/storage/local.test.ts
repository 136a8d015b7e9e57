import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalStorage } from './local.js';
import { fileStorageContract } from './storage.contract.js';

let directory = '';
fileStorageContract(
  'local directory',
  async () => {
    directory = await mkdtemp(join(tmpdir(), 'switchboard-upload-local-'));
    return createLocalStorage({ directory });
  },
  async () => {
    // Nothing half-written is left behind by the failed puts.
    const incoming = await readdir(join(directory, '.incoming')).catch(() => []);
    if (incoming.length > 0) throw new Error(`temp files left: ${incoming.join(', ')}`);
    await rm(directory, { recursive: true, force: true });
  },
);
