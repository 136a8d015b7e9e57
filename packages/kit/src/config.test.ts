import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod/v4';
import { ConfigError, bootConfig, loadConfig } from './config.js';

const schema = z.object({
  domain: z.string().min(1),
  edge: z
    .object({
      tcpPort: z.number().int().min(1).max(65535).default(5222),
      directTls: z.boolean().default(false),
      hosts: z.array(z.string()).default([]),
    })
    .default({ tcpPort: 5222, directTls: false, hosts: [] }),
  redis: z.object({ url: z.string().url(), partitions: z.number().int().positive() }).optional(),
  limits: z.object({ ports: z.array(z.number()) }).optional(),
});

const dir = mkdtempSync(join(tmpdir(), 'kit-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function issuesOf(run: () => unknown): ConfigError['issues'] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).name).toBe('ConfigError');
    return (error as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('reads a YAML file and fills defaults from the schema', () => {
    const path = file(
      'ok.yaml',
      'domain: example.com\nedge:\n  tcpPort: 5333\nredis:\n  url: redis://localhost:7000\n  partitions: 16\n',
    );
    expect(loadConfig(schema, { file: path })).toEqual({
      domain: 'example.com',
      edge: { tcpPort: 5333, directTls: false, hosts: [] },
      redis: { url: 'redis://localhost:7000', partitions: 16 },
    });
  });

  it('reads a JSON file', () => {
    const path = file('ok.json', JSON.stringify({ domain: 'example.org', edge: { directTls: true } }));
    expect(loadConfig(schema, { file: path })).toMatchObject({
      domain: 'example.org',
      edge: { directTls: true, tcpPort: 5222 },
    });
  });

  it('finds the file through SWITCHBOARD_CONFIG', () => {
    const path = file('via-env.yaml', 'domain: via-env.example\n');
    expect(loadConfig(schema, { env: { SWITCHBOARD_CONFIG: path } }).domain).toBe('via-env.example');
  });

  it('overrides file values with nested, coerced environment variables', () => {
    const path = file('base.yaml', 'domain: example.com\nedge:\n  tcpPort: 5222\n');
    const config = loadConfig(schema, {
      file: path,
      env: {
        SWITCHBOARD_EDGE__TCP_PORT: '5999',
        SWITCHBOARD_EDGE__DIRECT_TLS: 'true',
        SWITCHBOARD_EDGE__HOSTS: 'a.example, b.example',
        SWITCHBOARD_REDIS: '{"url":"redis://r:6380","partitions":8}',
        SWITCHBOARD_LIMITS__PORTS: '[1, 2]',
        PATH: '/usr/bin',
      },
    });
    expect(config).toEqual({
      domain: 'example.com',
      edge: { tcpPort: 5999, directTls: true, hosts: ['a.example', 'b.example'] },
      redis: { url: 'redis://r:6380', partitions: 8 },
      limits: { ports: [1, 2] },
    });
  });

  it('coerces booleans written as 1 and 0 and comma lists of numbers', () => {
    const config = loadConfig(schema, {
      env: {
        SWITCHBOARD_DOMAIN: 'x.example',
        SWITCHBOARD_EDGE__DIRECT_TLS: '1',
        SWITCHBOARD_LIMITS__PORTS: '5222,5223',
      },
    });
    expect(config.edge.directTls).toBe(true);
    expect(config.limits?.ports).toEqual([5222, 5223]);
    expect(
      loadConfig(schema, { env: { SWITCHBOARD_DOMAIN: 'x', SWITCHBOARD_EDGE__DIRECT_TLS: '0' } }).edge
        .directTls,
    ).toBe(false);
  });

  it('lets argv override the environment', () => {
    const config = loadConfig(schema, {
      env: { SWITCHBOARD_DOMAIN: 'env.example', SWITCHBOARD_EDGE__TCP_PORT: '1000' },
      argv: ['--edge.tcp-port=2000', '--domain', 'argv.example'],
    });
    expect(config.domain).toBe('argv.example');
    expect(config.edge.tcpPort).toBe(2000);
  });

  it('honours a custom prefix', () => {
    expect(
      loadConfig(schema, { prefix: 'SB_', env: { SB_DOMAIN: 'p.example', SWITCHBOARD_DOMAIN: 'no' } }).domain,
    ).toBe('p.example');
  });

  it('reports every invalid field at once, each with its path', () => {
    const path = file(
      'three-bad.yaml',
      'domain: ""\nedge:\n  tcpPort: 70000\nredis:\n  url: not a url\n  partitions: 4\n',
    );
    const issues = issuesOf(() =>
      loadConfig(schema, { file: path, env: { SWITCHBOARD_EDGE__DIRECT_TLS: 'maybe' } }),
    );
    expect(issues.map((i) => i.path).sort()).toEqual([
      'domain',
      'edge.directTls',
      'edge.tcpPort',
      'redis.url',
    ]);
    expect(issues.find((i) => i.path === 'edge.directTls')?.source).toBe('SWITCHBOARD_EDGE__DIRECT_TLS');
    expect(issues.find((i) => i.path === 'edge.tcpPort')?.source).toBe(`${path}:3`);
  });

  it('rejects unknown keys in the file and suggests the likely one', () => {
    const path = file('typo.yaml', 'domain: example.com\nedge:\n  tcp_prot: 5222\n  bogus: 1\n');
    const issues = issuesOf(() => loadConfig(schema, { file: path }));
    expect(issues).toEqual([
      { path: 'edge.tcp_prot', message: 'unknown key (did you mean edge.tcpPort?)', source: `${path}:3` },
      { path: 'edge.bogus', message: 'unknown key', source: `${path}:4` },
    ]);
  });

  it('rejects unknown keys inside schema objects declared strict', () => {
    const strict = z.strictObject({ a: z.strictObject({ b: z.number() }) });
    const issues = issuesOf(() => loadConfig(strict, { file: file('strict.json', '{"a":{"b":1,"c":2}}') }));
    expect(issues).toEqual([{ path: 'a.c', message: 'unknown key', source: join(dir, 'strict.json') }]);
  });

  it('rejects environment variables that name no setting', () => {
    const issues = issuesOf(() =>
      loadConfig(schema, { env: { SWITCHBOARD_DOMAIN: 'x', SWITCHBOARD_EDGE__TCP_PRT: '1' } }),
    );
    expect(issues).toEqual([
      {
        path: 'edge.TCP_PRT',
        message: 'no such setting (did you mean edge.tcpPort?)',
        source: 'SWITCHBOARD_EDGE__TCP_PRT',
      },
    ]);
    expect(
      loadConfig(schema, { unknownEnv: 'ignore', env: { SWITCHBOARD_DOMAIN: 'x', SWITCHBOARD_OTHER: '1' } })
        .domain,
    ).toBe('x');
  });

  it('reports a missing config file that was named explicitly', () => {
    const missing = join(dir, 'nope.yaml');
    expect(issuesOf(() => loadConfig(schema, { file: missing }))).toEqual([
      { path: '', message: 'config file not found', source: missing },
    ]);
  });

  it('reports YAML syntax errors with their line', () => {
    const path = file('broken.yaml', 'domain: example.com\nedge: [unclosed\n');
    const issues = issuesOf(() => loadConfig(schema, { file: path }));
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0]?.message).toMatch(/^invalid YAML/);
    expect(issues[0]?.source).toMatch(new RegExp(`^${path}:\\d+$`));
  });

  it('reports a file that is not a mapping', () => {
    const issues = issuesOf(() => loadConfig(schema, { file: file('list.json', '[1,2]') }));
    expect(issues[0]?.message).toBe('config file must hold a mapping of settings');
  });

  it('reports malformed JSON in an environment variable', () => {
    const issues = issuesOf(() =>
      loadConfig(schema, { env: { SWITCHBOARD_DOMAIN: 'x', SWITCHBOARD_REDIS: '{nope' } }),
    );
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'redis', source: 'SWITCHBOARD_REDIS' });
    expect(issues[0]?.message).toMatch(/^invalid JSON/);
  });
});

describe('bootConfig', () => {
  it('prints every issue in one block and exits 1', () => {
    let written = '';
    let exitCode: number | undefined;
    class Exit extends Error {}
    expect(() =>
      bootConfig(schema, {
        env: { SWITCHBOARD_EDGE__TCP_PORT: 'abc', SWITCHBOARD_REDIS__URL: 'nope' },
        argv: [],
        stderr: { write: (chunk: string) => (written += chunk) },
        exit: (code) => {
          exitCode = code;
          throw new Exit();
        },
      }),
    ).toThrow(Exit);
    expect(exitCode).toBe(1);
    expect(written).toMatch(/invalid configuration \(4 errors\)/);
    for (const path of ['domain', 'edge.tcpPort', 'redis.url', 'redis.partitions'])
      expect(written).toContain(`- ${path}:`);
  });
});
