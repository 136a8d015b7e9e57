import type { S2sConfig } from './config.js';

/** Who federates with us and how: per-domain allow/deny lists and the dialback rules. */
export interface Policy {
  /** A domain (or component domain) served here. */
  isLocal(domain: string): boolean;
  /** Remote domains we exchange stanzas with at all. */
  federates(domain: string): boolean;
  /** Whether `domain` may authenticate with XEP-0220 dialback instead of a certificate. */
  dialback(domain: string): boolean;
}

export function createPolicy(config: S2sConfig): Policy {
  const local = new Set([...config.domains, ...config.components]);
  const allow = new Set(config.allow);
  const deny = new Set(config.deny);
  const dialbackAllow = new Set(config.dialback.allow);
  const dialbackDeny = new Set(config.dialback.deny);
  return {
    isLocal: (domain) => local.has(domain),
    federates: (domain) => !local.has(domain) && !deny.has(domain) && (allow.size === 0 || allow.has(domain)),
    dialback: (domain) => dialbackAllow.has(domain) || (config.dialback.enabled && !dialbackDeny.has(domain)),
  };
}
