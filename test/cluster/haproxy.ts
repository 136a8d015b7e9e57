// Renders deploy/haproxy/haproxy.cfg.template: for docker-compose (the shipped haproxy.cfg) and
// for the topology test (local ports), so both run the same configuration.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const HAPROXY_TEMPLATE = join(ROOT, 'deploy/haproxy/haproxy.cfg.template');
export const HAPROXY_SHIPPED = join(ROOT, 'deploy/haproxy/haproxy.cfg');

/** Where one edge listens: its three client ports and the ops port that answers /readyz. */
export interface EdgeAddress {
  readonly name: string;
  readonly host: string;
  readonly starttls: number;
  readonly directTls: number;
  readonly http: number;
  readonly ops: number;
}

export interface HaproxyValues {
  readonly bind: string;
  readonly xmppPort: number;
  readonly xmppsPort: number;
  readonly httpPort: number;
  readonly monitorPort: number;
  /** Extra sections (the compose file's DNS resolvers); '' when none. */
  readonly resolvers: string;
  readonly servers: { readonly xmpp: string; readonly xmpps: string; readonly http: string };
}

/** Fills every `{{NAME}}` of the template; a name without a value is an error, not an empty line. */
export function renderHaproxyConfig(
  values: HaproxyValues,
  template = readFileSync(HAPROXY_TEMPLATE, 'utf8'),
): string {
  const table: Record<string, string> = {
    BIND: values.bind,
    XMPP_PORT: String(values.xmppPort),
    XMPPS_PORT: String(values.xmppsPort),
    HTTP_PORT: String(values.httpPort),
    MONITOR_PORT: String(values.monitorPort),
    RESOLVERS: values.resolvers,
    SERVERS_XMPP: values.servers.xmpp,
    SERVERS_XMPPS: values.servers.xmpps,
    SERVERS_HTTP: values.servers.http,
  };
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (_, name: string) => {
    const value = table[name];
    if (value === undefined) throw new Error(`haproxy template: no value for {{${name}}}`);
    return value;
  });
}

/** Edge replicas HAProxy can address; `docker-compose up --scale edge=N` works up to this N. */
export const COMPOSE_EDGE_SLOTS = 16;

/**
 * docker-compose: the `edge` service name resolves (Docker's DNS) to every replica, which
 * server-template spreads over its slots; replicas that come and go fill and empty slots.
 */
export function composeHaproxyValues(): HaproxyValues {
  const template = (port: number): string =>
    `  server-template edge 1-${COMPOSE_EDGE_SLOTS} edge:${port} check port 9280 resolvers docker init-addr none resolve-prefer ipv4`;
  return {
    bind: '*',
    xmppPort: 5222,
    xmppsPort: 5223,
    httpPort: 5280,
    monitorPort: 8404,
    resolvers: [
      '# Docker embedded DNS: one A record per running edge replica.',
      'resolvers docker',
      '  nameserver dns 127.0.0.11:53',
      '  resolve_retries 3',
      '  timeout resolve 1s',
      '  timeout retry 1s',
      '  hold valid 2s',
      '  hold obsolete 5s',
      '  accepted_payload_size 8192',
    ].join('\n'),
    servers: { xmpp: template(5222), xmpps: template(5223), http: template(5280) },
  };
}

/** One fixed server line per edge address (some may not be listening yet: they start DOWN). */
export function localHaproxyValues(
  edges: readonly EdgeAddress[],
  ports: { readonly xmpp: number; readonly xmpps: number; readonly http: number; readonly monitor: number },
): HaproxyValues {
  const lines = (port: (e: EdgeAddress) => number): string =>
    edges.map((e) => `  server ${e.name} ${e.host}:${port(e)} check port ${e.ops}`).join('\n');
  return {
    bind: '127.0.0.1',
    xmppPort: ports.xmpp,
    xmppsPort: ports.xmpps,
    httpPort: ports.http,
    monitorPort: ports.monitor,
    resolvers: '',
    servers: { xmpp: lines((e) => e.starttls), xmpps: lines((e) => e.directTls), http: lines((e) => e.http) },
  };
}
