import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { composeHaproxyValues, HAPROXY_SHIPPED, renderHaproxyConfig, ROOT } from './haproxy.js';
import { composeServices, COMPOSE_FILE, ENV_EXAMPLE } from './topology.js';

const pexec = promisify(execFile);

describe('docker-compose.yml and the HAProxy configuration', () => {
  it('is accepted by docker-compose (Debian) with the variables of .env.example', async () => {
    // `config -q` validates the file (schema, interpolation, depends_on conditions) without an engine.
    const { stdout, stderr } = await pexec(
      'docker-compose',
      ['--env-file', ENV_EXAMPLE, '-f', COMPOSE_FILE, 'config', '-q'],
      { cwd: ROOT },
    );
    expect(stdout).toBe('');
    expect(stderr).toBe('');
  });

  it('refuses to interpolate without the fake-salt secret, which must be the same on every edge', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'switchboard-compose-'));
    // Every variable of .env.example but the secret: docker-compose names the first one missing.
    const envFile = join(dir, 'no-salt.env');
    await writeFile(
      envFile,
      readFileSync(ENV_EXAMPLE, 'utf8')
        .split('\n')
        .filter((line) => !line.startsWith('SWITCHBOARD_FAKE_SALT_SECRET='))
        .join('\n'),
    );
    const run = pexec('docker-compose', ['--env-file', envFile, '-f', COMPOSE_FILE, 'config', '-q'], {
      cwd: ROOT,
      env: Object.fromEntries(
        Object.entries(process.env).filter(([k]) => k !== 'SWITCHBOARD_FAKE_SALT_SECRET'),
      ),
    });
    try {
      const failure = await run.then(
        () => undefined,
        (error: { stderr?: string }) => error,
      );
      expect(failure?.stderr).toContain('set SWITCHBOARD_FAKE_SALT_SECRET');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('runs Redis with AOF fsynced every second (ARCHITECTURE.md, "Delivery guarantees"), two routers with distinct ids and one scalable edge service', async () => {
    const services = await composeServices();
    const redis = services['redis']?.command.join(' ') ?? '';
    expect(redis).toContain('--appendonly yes');
    expect(redis).toContain('--appendfsync everysec');
    expect(services['router-1']?.environment['SWITCHBOARD_ROUTER_ID']).toBe('router-1');
    expect(services['router-2']?.environment['SWITCHBOARD_ROUTER_ID']).toBe('router-2');
    // Edges and routers must agree on the partitions and the domains.
    for (const key of ['SWITCHBOARD_PARTITIONS', 'SWITCHBOARD_DOMAINS', 'SWITCHBOARD_REDIS_URL']) {
      expect(services['edge']?.environment[key], key).toBe(services['router-1']?.environment[key]);
      expect(services['router-2']?.environment[key], key).toBe(services['router-1']?.environment[key]);
    }
    // Scalable: no host port fixed on the edge service itself (`docker-compose up --scale edge=N`).
    const raw = readFileSync(COMPOSE_FILE, 'utf8');
    const edgeBlock = /^ {2}edge:\n([\s\S]*?)^ {2}\S/m.exec(raw)?.[1] ?? '';
    expect(edgeBlock).not.toBe('');
    expect(edgeBlock).not.toMatch(/^ {4}ports:/m);
  });

  it('ships haproxy.cfg as its template rendered for docker-compose (regenerate: node --import tsx test/cluster/render-haproxy.ts)', () => {
    expect(readFileSync(HAPROXY_SHIPPED, 'utf8')).toBe(renderHaproxyConfig(composeHaproxyValues()));
  });

  it('ships a haproxy.cfg that haproxy itself accepts', async () => {
    const { stdout } = await pexec('haproxy', ['-c', '-f', HAPROXY_SHIPPED]);
    expect(stdout).toContain('Configuration file is valid');
  });
});
