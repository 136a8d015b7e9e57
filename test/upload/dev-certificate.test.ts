// `pnpm start` with no certificate configured: the file server presents the development certificate
// the edge generated in dataDir, and listens on a free port when the edge's ports are free ones.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@switchboard/kit';
import { build, type Standalone } from '@switchboard/standalone';

describe('the standalone file server with the development certificate', () => {
  let dataDir: string;
  let app: Standalone;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-upload-devcert-'));
    app = build(
      {
        dataDir,
        edge: {
          host: '127.0.0.1',
          ports: { starttls: 0, directTls: 0, http: 0, component: 0 },
          limits: { drainTimeoutSeconds: 1 },
        },
      },
      { logger: createLogger({ service: 'upload-devcert', level: 'silent' }) },
    );
    await app.start();
  });

  afterAll(async () => {
    await app?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves HTTPS with the certificate in dataDir at https://upload.localhost:<port>', async () => {
    const baseUrl = new URL(app.upload!.app.baseUrl());
    expect(baseUrl.protocol).toBe('https:');
    expect(baseUrl.hostname).toBe('upload.localhost');
    expect(Number(baseUrl.port)).toBeGreaterThan(0);
    expect(Number(baseUrl.port)).not.toBe(5281);
    const devCert = await readFile(join(dataDir, 'dev-tls.pem'), 'utf8');
    const { status, peer } = await new Promise<{ status: number; peer: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: Number(baseUrl.port),
          path: '/upload/AAAAAAAAAAAAAAAAAAAAAA/nothing.txt',
          // Checked against its 127.0.0.1 name: Node (like browsers) refuses `*.localhost` for
          // upload.localhost, a wildcard directly under a single-label name.
          ca: devCert,
        },
        (res) => {
          res.resume();
          const cert = (res.socket as TLSSocket).getPeerX509Certificate();
          resolve({ status: res.statusCode ?? 0, peer: cert?.fingerprint256 ?? '' });
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(404);
    expect(peer).toBe(new X509Certificate(devCert).fingerprint256);
    // The PUT-token key was generated once and kept beside the certificate.
    expect((await readFile(join(dataDir, 'upload-secret'), 'utf8')).length).toBeGreaterThanOrEqual(32);
  });
});
