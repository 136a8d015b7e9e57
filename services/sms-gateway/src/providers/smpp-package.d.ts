// Minimal types for smpp@0.5.1 (it ships none): only what the provider and its tests use.
// Not named smpp.d.ts: beside smpp.ts, TypeScript would take that for smpp.ts's own declaration output and ignore it.
declare module 'smpp' {
  import { EventEmitter } from 'node:events';
  import type { Server as NetServer, Socket } from 'node:net';

  namespace smpp {
    /** short_message as the package decodes it: the text per data_coding, and the UDH split into information elements. */
    interface DecodedShortMessage {
      message: string | Buffer;
      udh?: Buffer[];
    }

    /** A PDU: header fields plus the command's parameters and TLVs by name. */
    interface PDU {
      command: string;
      command_id: number;
      command_status: number;
      sequence_number: number;
      [param: string]: unknown;
      response(options?: Record<string, unknown>): PDU;
      isResponse(): boolean;
    }

    type ResponseCallback = (pdu: PDU) => void;

    class Session extends EventEmitter {
      socket: Socket;
      send(pdu: PDU, responseCallback?: ResponseCallback, sendCallback?: ResponseCallback): boolean;
      close(callback?: () => void): void;
      destroy(callback?: () => void): void;
      pause(): void;
      resume(): void;
      bind_transceiver(options: Record<string, unknown>, responseCallback?: ResponseCallback): boolean;
      submit_sm(options: Record<string, unknown>, responseCallback?: ResponseCallback): boolean;
      deliver_sm(options: Record<string, unknown>, responseCallback?: ResponseCallback): boolean;
      enquire_link(options?: Record<string, unknown>, responseCallback?: ResponseCallback): boolean;
      unbind(options?: Record<string, unknown>, responseCallback?: ResponseCallback): boolean;
    }

    interface Server extends NetServer {
      sessions: Session[];
    }

    interface ConnectOptions {
      host: string;
      port: number;
      auto_enquire_link_period?: number;
    }

    function connect(options: ConnectOptions, listener?: () => void): Session;
    function createServer(listener?: (session: Session) => void): Server;

    const errors: Readonly<Record<string, number>>;
    /** Builds a PDU; the session numbers it when sent unless sequence_number is set. */
    const PDU: new (command: string, options?: Record<string, unknown>) => PDU;
  }
  export = smpp;
}
