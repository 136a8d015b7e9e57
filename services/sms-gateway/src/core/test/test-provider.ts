import type {
  OutboundSms,
  ProviderContext,
  ProviderHandlers,
  SendResult,
  SmsProvider,
} from '../../providers/provider.js';
import { Inbox } from '@switchboard/testkit';

/**
 * A test double of our own SmsProvider interface: records every send, answers
 * with scripted outcomes (an error to throw, or success), and lets the test
 * play the provider's side of inbound SMS and delivery reports.
 */
export class TestProvider implements SmsProvider {
  readonly name = 'test';
  readonly sent = new Inbox<OutboundSms>();
  private handlers: ProviderHandlers | undefined;
  private readonly script: (Error | null)[] = [];
  private counter = 0;
  /** Runs after a send is accepted and before it resolves, e.g. to report on it before the gateway stored its ids. */
  beforeResolve: ((providerMessageId: string) => Promise<void>) | null = null;

  /** The next sends throw these errors in order (null = succeed); afterwards sends succeed. */
  scriptOutcomes(...outcomes: (Error | null)[]): void {
    this.script.push(...outcomes);
  }

  start(handlers: ProviderHandlers, _context: ProviderContext): Promise<void> {
    this.handlers = handlers;
    return Promise.resolve();
  }

  send(sms: OutboundSms): Promise<SendResult> {
    this.sent.push(sms);
    const outcome = this.script.shift();
    if (outcome !== undefined && outcome !== null) return Promise.reject(outcome);
    this.counter++;
    const id = `pm-${this.counter}`;
    const result = { providerMessageIds: [id], segments: 1 };
    return this.beforeResolve === null ? Promise.resolve(result) : this.beforeResolve(id).then(() => result);
  }

  /** Forgets what was sent and numbers ids from pm-1 again, e.g. after the verification code SMS of a setup step. */
  forget(): void {
    this.sent.items.length = 0;
    this.counter = 0;
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  get events(): ProviderHandlers {
    if (this.handlers === undefined) throw new Error('provider not started');
    return this.handlers;
  }
}
