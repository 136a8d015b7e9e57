import { Resolver as DnsResolver } from 'node:dns/promises';

/** One place to try a connection to a remote domain's server. */
export interface Target {
  readonly host: string;
  readonly port: number;
  /** XEP-0368: TLS from the first byte (`_xmpps-server`), else STARTTLS. */
  readonly directTls: boolean;
}

/** Why a domain has no target: it does not exist in DNS, or DNS could not answer. */
export type ResolveFailure = 'not-found' | 'dns-error';

export type Resolution = { readonly targets: readonly Target[] } | { readonly failure: ResolveFailure };

/** Finds where a remote domain's XMPP server listens; tests point it at a static map. */
export interface Resolver {
  resolve(domain: string): Promise<Resolution>;
}

/** RFC 6120 §3.2.1 fallback port when no SRV record exists. */
export const DEFAULT_S2S_PORT = 5269;

export interface ResolverOptions {
  /** Domain → "host:port", answered before DNS and without it. */
  readonly staticHosts: Readonly<Record<string, string>>;
  /** Whether to ask DNS for domains not in the map. */
  readonly dns: boolean;
  /** DNS servers ("ip" or "ip:port") instead of the system's, e.g. split-horizon set-ups. */
  readonly servers?: readonly string[];
  /** Per-query timeout. Default 3000 ms. */
  readonly timeoutMs?: number;
}

/**
 * RFC 6120 §3.2 and XEP-0368: SRV `_xmpps-server._tcp` and `_xmpp-server._tcp`
 * merged by priority (direct TLS first within a priority, as XEP-0368 §3
 * suggests), then the domain's A/AAAA on 5269 when there is no SRV record at
 * all. A single "." target means the service is decidedly not available.
 */
export function createResolver(options: ResolverOptions): Resolver {
  const dns = new DnsResolver({ timeout: options.timeoutMs ?? 3000, tries: 2 });
  if (options.servers !== undefined && options.servers.length > 0) dns.setServers([...options.servers]);
  return {
    async resolve(domain) {
      const fixed = options.staticHosts[domain];
      if (fixed !== undefined) return { targets: [parseHostPort(fixed)] };
      if (!options.dns) return { failure: 'not-found' };
      const [tls, plain] = await Promise.all([
        srv(dns, `_xmpps-server._tcp.${domain}`),
        srv(dns, `_xmpp-server._tcp.${domain}`),
      ]);
      if (tls === 'error' && plain === 'error') return { failure: 'dns-error' };
      const records = [
        ...(typeof tls === 'string' ? [] : tls.map((r) => ({ ...r, directTls: true }))),
        ...(typeof plain === 'string' ? [] : plain.map((r) => ({ ...r, directTls: false }))),
      ];
      if (records.length > 0) {
        // RFC 2782: "." alone means no service.
        if (records.every((r) => r.name === '' || r.name === '.')) return { failure: 'not-found' };
        records.sort(
          (a, b) =>
            a.priority - b.priority || Number(b.directTls) - Number(a.directTls) || b.weight - a.weight,
        );
        // The target names are resolved by the same servers, in SRV order (RFC 6120 §3.2.1 step 6).
        const usable = records.filter((r) => r.name !== '' && r.name !== '.');
        const resolved = await Promise.all(usable.map((r) => addresses(dns, r.name)));
        const targets = usable.flatMap((r, i) =>
          resolved[i]!.map((host) => ({ host, port: r.port, directTls: r.directTls })),
        );
        return targets.length === 0 ? { failure: 'not-found' } : { targets };
      }
      // RFC 6120 §3.2.2: no SRV, so the domain itself on the default port.
      const found = await addresses(dns, domain);
      if (found.length === 0) return { failure: 'not-found' };
      return { targets: found.map((host) => ({ host, port: DEFAULT_S2S_PORT, directTls: false })) };
    },
  };
}

/** A and AAAA records of a host name, IPv4 first; [] when it has none. */
async function addresses(dns: DnsResolver, host: string): Promise<string[]> {
  const [a, aaaa] = await Promise.all([
    dns.resolve4(host).catch(() => []),
    dns.resolve6(host).catch(() => []),
  ]);
  return [...a, ...aaaa];
}

interface SrvRecord {
  readonly name: string;
  readonly port: number;
  readonly priority: number;
  readonly weight: number;
}

async function srv(dns: DnsResolver, name: string): Promise<readonly SrvRecord[] | 'none' | 'error'> {
  try {
    return await dns.resolveSrv(name);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOTFOUND' || code === 'ENODATA' ? 'none' : 'error';
  }
}

export function parseHostPort(value: string): Target {
  const colon = value.lastIndexOf(':');
  let host = value.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port: Number(value.slice(colon + 1)), directTls: false };
}
