// The S3 driver against a real S3-compatible server (s3rver, started in-process on a free port).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { createS3Storage } from './s3.js';
import { fileStorageContract } from './storage.contract.js';

let directory = '';
let server: S3rver | undefined;
fileStorageContract(
  'S3-compatible bucket (s3rver)',
  async () => {
    directory = await mkdtemp(join(tmpdir(), 'switchboard-upload-s3-'));
    server = new S3rver({
      port: 0,
      address: '127.0.0.1',
      silent: true,
      directory,
      configureBuckets: [{ name: 'uploads', configs: [] }],
    });
    const { port } = await server.run();
    return createS3Storage({
      bucket: 'uploads',
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      forcePathStyle: true,
      prefix: 'files/',
    });
  },
  async () => {
    await server?.close();
    await rm(directory, { recursive: true, force: true });
  },
);
