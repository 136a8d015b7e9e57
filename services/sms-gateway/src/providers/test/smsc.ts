import type { AddressInfo } from 'node:net';
import smpp from 'smpp';
import type { PDU, Server, Session } from 'smpp';

export interface ReceivedPdu {
  readonly pdu: PDU;
  readonly at: number;
  readonly session: Session;
}

/**
 * A real SMPP 3.4 SMSC for tests, on the smpp package's own server: it binds
 * one set of credentials, answers submit_sm with message ids (or a scripted
 * error status), answers enquire_link, and sends deliver_sm on demand.
 */
export class TestSmsc {
  readonly binds: ReceivedPdu[] = [];
  readonly submits: ReceivedPdu[] = [];
  readonly enquireLinks: ReceivedPdu[] = [];
  /** Statuses for the next submit_sm responses, in order; 0 (ESME_ROK) once empty. */
  readonly submitStatuses: number[] = [];
  answerEnquireLink = true;
  #nextId = 1000;
  readonly #watchers = new Set<() => void>();
  readonly #bound = new Set<Session>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly credentials: { readonly systemId: string; readonly password: string },
  ) {}

  static async start(credentials = { systemId: 'esme', password: 'secret' }): Promise<TestSmsc> {
    const server = smpp.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const smsc = new TestSmsc(server, (server.address() as AddressInfo).port, credentials);
    server.on('session', (session: Session) => smsc.#accept(session));
    return smsc;
  }

  #accept(session: Session): void {
    session.on('error', () => undefined);
    session.on('close', () => this.#bound.delete(session));
    session.on('bind_transceiver', (pdu: PDU) => {
      this.#record(this.binds, pdu, session);
      const ok =
        pdu['system_id'] === this.credentials.systemId && pdu['password'] === this.credentials.password;
      if (ok) this.#bound.add(session);
      session.send(
        pdu.response(ok ? { system_id: 'test-smsc' } : { command_status: smpp.errors['ESME_RINVPASWD'] }),
      );
      this.#notify();
    });
    session.on('submit_sm', (pdu: PDU) => {
      this.#record(this.submits, pdu, session);
      const status = this.submitStatuses.shift() ?? 0;
      session.send(
        pdu.response(status ? { command_status: status } : { message_id: `msg-${this.#nextId++}` }),
      );
    });
    session.on('enquire_link', (pdu: PDU) => {
      this.#record(this.enquireLinks, pdu, session);
      if (this.answerEnquireLink) session.send(pdu.response());
    });
    session.on('unbind', (pdu: PDU) => {
      session.send(pdu.response());
      session.close();
    });
  }

  #record(list: ReceivedPdu[], pdu: PDU, session: Session): void {
    list.push({ pdu, at: Date.now(), session });
    this.#notify();
  }

  #notify(): void {
    for (const w of [...this.#watchers]) w();
  }

  /** Resolves when `condition` holds, re-checked after every PDU the SMSC receives. */
  until(condition: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (!condition()) return;
        this.#watchers.delete(check);
        resolve();
      };
      this.#watchers.add(check);
      check();
    });
  }

  /** Sends deliver_sm to the bound ESME; resolves with its deliver_sm_resp. */
  deliver(params: Record<string, unknown>): Promise<PDU> {
    const session = [...this.#bound].at(-1);
    if (!session) return Promise.reject(new Error('no ESME bound'));
    return new Promise((resolve, reject) => {
      if (!session.deliver_sm(params, resolve)) reject(new Error('ESME connection not writable'));
    });
  }

  /** An enquire_link round trip to the ESME: everything it wrote before answering has arrived by then (one ordered TCP stream). */
  ping(): Promise<PDU> {
    const session = [...this.#bound].at(-1);
    if (!session) return Promise.reject(new Error('no ESME bound'));
    return new Promise((resolve, reject) => {
      if (!session.enquire_link({}, resolve)) reject(new Error('ESME connection not writable'));
    });
  }

  /** Drops every ESME connection without unbinding, as a crashed SMSC or a broken network would. */
  dropConnections(): void {
    for (const s of this.server.sessions) s.destroy();
  }

  get boundSessions(): number {
    return this.#bound.size;
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
