// The monitoring profile: the Grafana dashboard and the Prometheus rules may only use metrics that
// the services (started from their docker-compose.yml environment) and redis_exporter expose, and
// Prometheus must scrape every service of the compose file.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { buildWorkspace } from '../e2e/deployments.js';
import { ROOT } from '../cluster/haproxy.js';
import { composeServices, freePort, runDir, type ComposeService } from '../cluster/topology.js';
import { startComposeService, type ServiceProcess } from './compose-processes.js';
import { waitFor } from './wait.js';

const pexec = promisify(execFile);
const DASHBOARD = join(ROOT, 'deploy/grafana/dashboards/switchboard.json');
const PROMETHEUS = join(ROOT, 'deploy/prometheus/prometheus.yml');
const RULES = join(ROOT, 'deploy/prometheus/rules.yml');

// PromQL words that are not metric names.
const PROMQL_WORDS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'count',
  'rate',
  'irate',
  'increase',
  'histogram_quantile',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'scalar',
  'absent',
  'topk',
  'bottomk',
  'delta',
  'deriv',
  'clamp_min',
  'clamp_max',
  'vector',
  'time',
  'offset',
  'bool',
]);
// Series Prometheus makes itself for every target.
const SYNTHETIC = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

/** The metric names a PromQL expression reads. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"[^"]*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names = new Set<string>();
  for (const token of stripped.match(/[A-Za-z_:][A-Za-z0-9_:]*/g) ?? []) {
    if (!PROMQL_WORDS.has(token) && !/^\d/.test(token)) names.add(token);
  }
  return [...names];
}

/** Series names a /metrics page declares (`# TYPE` lines), with a histogram's and a summary's series. */
function exposedNames(page: string): Set<string> {
  const names = new Set<string>();
  for (const line of page.split('\n')) {
    const match = /^# TYPE (\S+) (\S+)/.exec(line);
    if (match === null) continue;
    const [, name, type] = match as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

interface Panel {
  readonly type: string;
  readonly title: string;
  readonly datasource?: { readonly uid: string };
  readonly targets?: readonly { readonly expr: string }[];
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { uid: string; panels: Panel[] };
const rules = parse(readFileSync(RULES, 'utf8')) as {
  groups: { rules: { alert: string; expr: string }[] }[];
};
const dashboardExprs = dashboard.panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr })),
);
const ruleExprs = rules.groups.flatMap((g) =>
  g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
);

describe('Grafana dashboard and Prometheus configuration (deploy/)', () => {
  let redis: RedisServer;
  let exporter: ChildProcess | undefined;
  let exporterUrl: string;
  const services: ServiceProcess[] = [];
  let dir: { path: string; remove(): Promise<void> };
  let compose: Record<string, ComposeService>;

  beforeAll(async () => {
    [redis, dir, compose] = await Promise.all([
      startRedisServer(),
      runDir(),
      composeServices(),
      buildWorkspace(),
    ]).then(([r, d, c]) => [r, d, c] as const);
    const exporterPort = await freePort();
    exporterUrl = `http://127.0.0.1:${exporterPort}/metrics`;
    exporter = spawn(
      'prometheus-redis-exporter',
      ['--redis.addr', redis.url, '--web.listen-address', `127.0.0.1:${exporterPort}`],
      { stdio: 'ignore' },
    );
    const start = (name: string, service: string): Promise<ServiceProcess> =>
      startComposeService(name, service, compose[name]!, redis.url, dir.path).then((s) => {
        services.push(s);
        return s;
      });
    // The router first: the others' readiness does not depend on it, but edges want partitions owned.
    await start('router-1', 'router');
    await Promise.all([
      start('edge', 'edge'),
      start('sms-gateway', 'sms-gateway'),
      start('muc', 'muc'),
      start('irc-gateway', 'irc-gateway'),
      start('s2s', 's2s'),
      start('upload', 'upload'),
    ]);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(services.map((s) => s.process.kill()));
    exporter?.kill('SIGKILL');
    await redis?.dispose();
    await dir?.remove();
  });

  it('passes promtool (prometheus.yml with its rule file, and the rules)', async () => {
    const config = await pexec('promtool', ['check', 'config', PROMETHEUS]);
    expect(config.stdout).toContain('SUCCESS');
    const checked = await pexec('promtool', ['check', 'rules', RULES]);
    expect(checked.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('scrapes every service of docker-compose.yml that serves /metrics, and redis through redis_exporter', () => {
    const prometheus = parse(readFileSync(PROMETHEUS, 'utf8')) as {
      scrape_configs: {
        job_name: string;
        static_configs?: { targets: string[] }[];
        dns_sd_configs?: { names: string[]; port: number }[];
      }[];
    };
    const targets = new Set<string>();
    for (const job of prometheus.scrape_configs) {
      for (const s of job.static_configs ?? []) for (const t of s.targets) targets.add(t.split(':')[0]!);
      for (const d of job.dns_sd_configs ?? []) for (const n of d.names) targets.add(n);
    }
    const withOps = Object.entries(compose)
      .filter(
        ([, s]) =>
          s.environment['SWITCHBOARD_OPS__PORT'] === '9280' ||
          s.environment['SWITCHBOARD_HTTP__PORT'] === '9280',
      )
      .map(([name]) => name);
    expect(withOps.length).toBeGreaterThanOrEqual(7);
    for (const name of withOps) expect(targets, name).toContain(name);
    expect(targets).toContain('redis-exporter');
    // Scaled edges are found by DNS, one A record per replica.
    const edgeJob = prometheus.scrape_configs.find((j) => j.job_name === 'edge');
    expect(edgeJob?.dns_sd_configs?.[0]).toMatchObject({ names: ['edge'], port: 9280 });
  });

  it('uses the provisioned Prometheus datasource in every panel', () => {
    const provisioned = parse(
      readFileSync(join(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
    ) as { datasources: { uid: string }[] };
    const uid = provisioned.datasources[0]?.uid;
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row'))
      expect(panel.datasource?.uid, panel.title).toBe(uid);
    // The panels the issue asks for.
    const titles = dashboard.panels.map((p) => p.title).join('\n');
    for (const t of [
      'Connections by transport',
      'Logins',
      'Stanzas in / out',
      'Delivery lag',
      'Router batch rate',
      'Partition ownership',
      'Redis memory',
      'SMS queue depth',
    ])
      expect(titles).toContain(t);
  });

  it('reads only metrics that some running service or redis_exporter exposes', async () => {
    const exposed = new Set<string>(SYNTHETIC);
    for (const service of services) {
      const page = await (await fetch(`${service.opsUrl}/metrics`)).text();
      for (const name of exposedNames(page)) exposed.add(name);
    }
    const redisPage = await waitFor(
      () =>
        fetch(exporterUrl).then(
          (r) => r.text(),
          () => '',
        ),
      (page) => page.includes('redis_up 1'),
    );
    for (const name of exposedNames(redisPage)) exposed.add(name);

    const used = [...dashboardExprs, ...ruleExprs];
    expect(used.length).toBeGreaterThan(20);
    const missing = used.flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((name) => !exposed.has(name))
        .map((name) => `${where}: ${name}`),
    );
    expect(missing).toEqual([]);
    // The check itself can fail: a made-up name is caught.
    expect(metricNames('sum(rate(edge_made_up_total{x="y"}[5m])) by (transport)')).toEqual([
      'edge_made_up_total',
    ]);
  });
});
