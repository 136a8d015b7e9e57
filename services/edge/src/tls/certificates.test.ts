import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { loadTlsMaterial } from './certificates.js';

describe('loadTlsMaterial', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('generates a development certificate naming every served domain and keeps it across restarts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edge-cert-'));
    dirs.push(dir);
    const first = await loadTlsMaterial({ dataDir: dir, domains: ['localhost', 'example.com'] });
    expect(first.source).toBe('generated');
    const cert = new X509Certificate(first.cert);
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkHost('conference.example.com')).toBe('*.example.com');
    expect(cert.checkHost('example.org')).toBeUndefined();
    // No wildcard right under a single label: our services' own subdomains are named outright.
    expect(cert.checkHost('upload.localhost')).toBe('upload.localhost');
    const again = await loadTlsMaterial({ dataDir: dir, domains: ['localhost'] });
    expect(again.source).toBe('cached');
    expect(again.cert).toBe(first.cert);
  });

  it('makes a new certificate when a served domain is not covered by the cached one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edge-cert-'));
    dirs.push(dir);
    await loadTlsMaterial({ dataDir: dir, domains: ['localhost'] });
    const next = await loadTlsMaterial({ dataDir: dir, domains: ['localhost', 'example.net'] });
    expect(next.source).toBe('generated');
    expect(new X509Certificate(next.cert).checkHost('example.net')).toBe('example.net');
  });

  it('rejects a key without a certificate', async () => {
    await expect(
      loadTlsMaterial({ dataDir: '/nonexistent', domains: ['localhost'], keyFile: 'k.pem' }),
    ).rejects.toThrow(/both keyFile and certFile/);
  });
});
