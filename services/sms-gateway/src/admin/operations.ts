import type { FailedJob, OutboundQueue, QueueCounts } from '../queue/queue.js';
import type { Registration, Registrations } from '../registrations/registrations.js';

/** Stable error names, the same as the router's admin API (docs/admin-api.md, "Conventions"). */
export type SmsAdminErrorName = 'bad-request' | 'not-found';

export class SmsAdminError extends Error {
  override readonly name = 'SmsAdminError';
  constructor(
    readonly code: SmsAdminErrorName,
    message: string,
  ) {
    super(message);
  }
}

/** docs/admin-api.md, `GET /sms/jobs`: what an operator needs to decide on a failed send. */
export interface FailedJobView {
  readonly id: string;
  readonly to: string;
  readonly from: string;
  readonly text: string;
  readonly sender: string;
  readonly contact: string;
  readonly reason: string;
  readonly attempts: number;
  readonly unrecoverable: boolean;
}

/** A registration without the provider credentials the user gave. */
export interface RegistrationView {
  readonly jid: string;
  readonly number: string;
}

export interface OptOutView {
  /** The SMS user who sent STOP. */
  readonly number: string;
  /** The registered number they opted out of. */
  readonly own: string;
}

/** The SMS gateway's operator actions, behind the admin API's `/sms/*` and the CLI's `sms` commands. */
export interface SmsAdminOperations {
  summary(): Promise<{ domain: string; queue: QueueCounts }>;
  failedJobs(limit?: number): Promise<FailedJobView[]>;
  retry(id: string): Promise<void>;
  remove(id: string): Promise<void>;
  registrations(filter: { jid?: string; number?: string }): Promise<RegistrationView[]>;
  removeRegistration(jid: string): Promise<void>;
  optOuts(filter: { number?: string; own?: string }): Promise<OptOutView[]>;
}

export interface SmsAdminDeps {
  readonly domain: string;
  readonly queue: OutboundQueue;
  readonly registrations: Registrations;
}

export function createSmsAdmin(deps: SmsAdminDeps): SmsAdminOperations {
  const { domain, queue, registrations } = deps;
  const view = (r: Registration): RegistrationView => ({ jid: r.jid, number: r.number });
  return {
    async summary() {
      return { domain, queue: await queue.counts() };
    },
    async failedJobs(limit = 100) {
      return (await queue.failed(Math.max(1, Math.min(limit, 1000)))).map(toFailedView);
    },
    async retry(id) {
      if (!(await queue.retry(id))) throw new SmsAdminError('not-found', `no failed job ${id}`);
    },
    async remove(id) {
      if (!(await queue.remove(id))) throw new SmsAdminError('not-found', `no failed job ${id}`);
    },
    async registrations({ jid, number }) {
      if (jid !== undefined) {
        const found = await registrations.get(jid);
        return found === null || (number !== undefined && found.number !== number) ? [] : [view(found)];
      }
      if (number !== undefined) {
        const found = await registrations.byNumber(number);
        return found === null ? [] : [view(found)];
      }
      return (await registrations.list()).map(view);
    },
    async removeRegistration(jid) {
      if (!(await registrations.remove(jid)))
        throw new SmsAdminError('not-found', `${jid} has no registration`);
    },
    async optOuts({ number, own }) {
      if (number !== undefined && own !== undefined)
        return (await registrations.isOptedOut(number, own)) ? [{ number, own }] : [];
      return (await registrations.listOptOuts())
        .map((o) => ({ number: o.contact, own: o.own }))
        .filter((o) => (number === undefined || o.number === number) && (own === undefined || o.own === own));
    },
  };
}

function toFailedView(failure: FailedJob): FailedJobView {
  const { job } = failure;
  return {
    id: job.id,
    to: job.sms.to,
    from: job.sms.from,
    text: job.sms.text,
    sender: job.sender,
    contact: job.contact,
    reason: failure.reason,
    attempts: failure.attempts,
    unrecoverable: failure.unrecoverable,
  };
}
