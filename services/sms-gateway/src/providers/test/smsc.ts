import type { AddressInfo } from 'node:net';
import smpp from 'smpp';
import type { PDU, Server, Session } from 'smpp';

export interface ReceivedPdu {
  readonly pdu: PDU;
  readonly at: number;
  readonly session: Session;
}

/** A submit_sm the SMSC answered with ESME_ROK: it took the message and will deliver it. */
export interface AcceptedSubmit extends ReceivedPdu {
  readonly messageId: string;
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
  /** Submits answered with ESME_ROK, in order. */
  readonly accepted: AcceptedSubmit[] = [];
  /**
   * Withholds the submit_sm_resp of submits it matches until release(). A
   * withheld submit whose connection drops is discarded unanswered, as an SMSC
   * that commits a message when it answers: it never counts as accepted.
   */
  hold: ((pdu: PDU) => boolean) | undefined;
  /** The message id of the nth accepted submit; default `msg-<1000 + n>`. */
  messageId: (n: number) => string = (n) => `msg-${1000 + n}`;
  readonly #held: { readonly received: ReceivedPdu; readonly answer: () => void }[] = [];
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
    session.on('close', () => {
      this.#bound.delete(session);
      for (let i = this.#held.length - 1; i >= 0; i--) {
        if (this.#held[i]!.received.session === session) this.#held.splice(i, 1);
      }
      this.#notify();
    });
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
      const received: ReceivedPdu = { pdu, at: Date.now(), session };
      const answer = (): void => {
        const status = this.submitStatuses.shift() ?? 0;
        if (status) {
          session.send(pdu.response({ command_status: status }));
          return;
        }
        const messageId = this.messageId(this.#nextId++ - 1000);
        this.accepted.push({ ...received, messageId });
        session.send(pdu.response({ message_id: messageId }));
      };
      if (this.hold?.(pdu)) this.#held.push({ received, answer });
      else answer();
      this.submits.push(received);
      this.#notify();
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

  /** Submits whose response is being withheld. */
  get held(): readonly ReceivedPdu[] {
    return this.#held.map((h) => h.received);
  }

  /** Answers the withheld submits (and stops withholding). */
  release(): void {
    this.hold = undefined;
    for (const held of this.#held.splice(0)) held.answer();
    this.#notify();
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

  /**
   * Sends one deliver_sm twice with the same sequence number, as an SMSC
   * retransmits a PDU whose response it missed; resolves with both responses.
   */
  async deliverTwice(params: Record<string, unknown>): Promise<[PDU, PDU]> {
    const session = [...this.#bound].at(-1);
    if (!session) throw new Error('no ESME bound');
    const pdu = new smpp.PDU('deliver_sm', params);
    const once = (): Promise<PDU> =>
      new Promise((resolve, reject) => {
        if (!session.send(pdu, resolve)) reject(new Error('ESME connection not writable'));
      });
    const first = await once();
    return [first, await once()];
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
