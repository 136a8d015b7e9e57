import type { FastifyInstance } from 'fastify';
import type { SendLedger } from './ledger.js';

/**
 * One SMS provider (an SMPP 3.4 SMSC, a Twilio-compatible HTTP API) behind the
 * interface the gateway's translation logic talks to. Numbers are E.164 with
 * the leading '+'.
 */
export interface SmsProvider {
  readonly name: string;
  /** Connects (SMPP bind) or mounts routes (HTTP webhooks), and starts reporting inbound traffic. */
  start(handlers: ProviderHandlers, context: ProviderContext): Promise<void>;
  /**
   * Sends one message (the provider splits it into segments itself).
   * Throws ProviderError: `retryable` for throttling, 5xx, timeouts and lost
   * connections; not retryable for permanent refusals (4xx, invalid number).
   */
  send(sms: OutboundSms): Promise<SendResult>;
  stop(): Promise<void>;
}

export interface ProviderContext {
  /** The gateway's HTTP server, for webhooks and status callbacks; routes are mounted before it listens. */
  readonly http: FastifyInstance;
  /**
   * Where accepted parts and their delivery reports are recorded, so that a
   * re-run job resubmits only missing parts and a multi-part message is
   * reported once (see SendLedger). Without it the provider keeps one in memory.
   */
  readonly ledger?: SendLedger;
  /**
   * The provider account the user who registered `number` gave (e.g. a Twilio
   * account SID and auth token), looked up in the registrations store: webhooks
   * signed with a per-user account are checked against it, also after a restart.
   */
  readonly accountOf?: (number: string) => Promise<Readonly<Record<string, string>> | undefined>;
}

export interface ProviderHandlers {
  inbound(sms: InboundSms): Promise<void>;
  report(report: DeliveryReport): Promise<void>;
}

export interface OutboundSms {
  /** Idempotency key (derived from the stanza's envelope id): a repeat with the same id must not be sent twice. */
  readonly id: string;
  /** Sender number (the registered user's number). */
  readonly from: string;
  readonly to: string;
  readonly text: string;
  /** Ask the provider for a delivery report. */
  readonly wantReport: boolean;
  /** Per-user provider credentials, where the provider needs them (e.g. a Twilio account SID and token). */
  readonly account?: Readonly<Record<string, string>>;
}

export interface SendResult {
  /** One id per segment (SMPP) or one per message (HTTP); delivery reports name one of them. */
  readonly providerMessageIds: readonly string[];
  readonly segments: number;
}

export interface InboundSms {
  readonly from: string;
  readonly to: string;
  readonly text: string;
  /** MMS media (Twilio MediaUrlN), in order; the text does not repeat them. */
  readonly media?: readonly string[];
  readonly providerMessageId: string;
  readonly receivedAt: number;
}

export type DeliveryStatus = 'delivered' | 'failed' | 'expired' | 'rejected' | 'undeliverable' | 'unknown';

export interface DeliveryReport {
  readonly providerMessageId: string;
  readonly status: DeliveryStatus;
  readonly errorCode?: string;
  readonly at: number;
}

/** A provider's refusal or failure, split the BullMQ way into retryable and unrecoverable. */
export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly code?: string,
  ) {
    super(message);
  }
}
