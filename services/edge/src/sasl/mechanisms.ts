import { fail } from './attempt.js';
import { PlainServer } from './plain.js';
import { ScramServer } from './scram.js';
import type { ChannelBindingType, SaslContext, SaslFailure, SaslServer, SaslStep } from './types.js';

export type MechanismName =
  'SCRAM-SHA-256-PLUS' | 'SCRAM-SHA-1-PLUS' | 'SCRAM-SHA-256' | 'SCRAM-SHA-1' | 'PLAIN';

export interface StreamSecurity {
  /** The stream is encrypted (STARTTLS done, or direct TLS). */
  tls: boolean;
  /** Channel-binding types available on this TLS connection (see `channelBindingsOf`). */
  bindings: readonly ChannelBindingType[];
  /** Offer PLAIN without TLS; for tests and loopback only. */
  allowPlaintextPlain?: boolean;
}

/** What to put in `<mechanisms/>` (RFC 6120 §6.4.1), strongest first. */
export function mechanismsFor(security: StreamSecurity): MechanismName[] {
  const out: MechanismName[] = [];
  if (security.tls && security.bindings.length > 0) out.push('SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS');
  out.push('SCRAM-SHA-256', 'SCRAM-SHA-1');
  if (security.tls || security.allowPlaintextPlain === true) out.push('PLAIN');
  return out;
}

/** XEP-0440: the namespace of the `<sasl-channel-binding/>` stream feature. */
export const SASL_CHANNEL_BINDING_NS = 'urn:xmpp:sasl-cb:0';

/**
 * XEP-0440 §3: the types to list as `<channel-binding type='…'/>` children of
 * `<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'>`; empty means leave the feature out.
 */
export function channelBindingFeature(security: StreamSecurity): ChannelBindingType[] {
  return security.tls ? [...security.bindings] : [];
}

/** An attempt with a mechanism we did not offer: fails as soon as it starts. */
class RefusedMechanism implements SaslServer {
  constructor(
    readonly mechanism: string,
    private readonly refusal: SaslFailure,
  ) {}

  start(): Promise<SaslStep> {
    return Promise.resolve(this.refusal);
  }

  step(): Promise<SaslStep> {
    return Promise.resolve(this.refusal);
  }

  abort(): SaslFailure {
    return fail('aborted');
  }
}

/**
 * One authentication attempt with the mechanism the client named in `<auth mechanism='…'/>`.
 * A mechanism that is not offered on this stream gives an attempt that fails at `start`:
 * PLAIN without TLS with encryption-required, anything else with invalid-mechanism.
 */
export function createMechanism(name: string, ctx: SaslContext): SaslServer {
  const security: StreamSecurity = {
    tls: ctx.tls !== null,
    bindings: ctx.bindings,
    ...(ctx.allowPlaintextPlain === undefined ? {} : { allowPlaintextPlain: ctx.allowPlaintextPlain }),
  };
  const offered: readonly string[] = mechanismsFor(security);
  if (!offered.includes(name)) {
    return new RefusedMechanism(
      name,
      name === 'PLAIN' ? fail('encryption-required') : fail('invalid-mechanism', `${name} is not offered`),
    );
  }
  switch (name) {
    case 'SCRAM-SHA-256-PLUS':
      return new ScramServer(ctx, 'SCRAM-SHA-256', true);
    case 'SCRAM-SHA-1-PLUS':
      return new ScramServer(ctx, 'SCRAM-SHA-1', true);
    case 'SCRAM-SHA-256':
      return new ScramServer(ctx, 'SCRAM-SHA-256', false);
    case 'SCRAM-SHA-1':
      return new ScramServer(ctx, 'SCRAM-SHA-1', false);
    default:
      return new PlainServer(ctx);
  }
}
