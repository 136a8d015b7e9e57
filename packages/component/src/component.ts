import { createHash, randomUUID } from 'node:crypto';
import { component, xml as ltx, type Component, type XmlElement } from '@xmpp/component';
import type { Logger } from '@switchboard/kit';
import { xml, type Element } from '@switchboard/xml';
import type { Incoming, Transport } from './transport.js';

export interface ComponentTransportOptions {
  /** The XMPP server's component port, e.g. `xmpp://127.0.0.1:5347`. */
  readonly service: string;
  readonly domain: string;
  /** The shared secret (XEP-0114 §3). */
  readonly secret: string;
  readonly logger: Logger;
  /** Stanzas kept while disconnected; the oldest go first beyond it. Default 10 000. */
  readonly bufferLimit?: number;
}

/**
 * The XEP-0114 transport through @xmpp/component (facts in
 * shared/LIBRARY-NOTES.md): it reconnects by itself but throws on send()
 * while offline and queues nothing, so stanzas wait in our own buffer until
 * it is online again.
 */
export function componentTransport(options: ComponentTransportOptions): Transport & {
  /** Resolves once the component is online (handshake accepted). */
  readonly online: () => Promise<void>;
} {
  const { logger } = options;
  const limit = options.bufferLimit ?? 10_000;
  const buffer: Element[] = [];
  let xmpp: Component | undefined;
  let flushing = false;
  let onlineWaiters: (() => void)[] = [];

  async function flush(): Promise<void> {
    if (flushing || xmpp === undefined) return;
    flushing = true;
    try {
      while (buffer.length > 0 && xmpp.status === 'online') {
        const el = buffer[0]!;
        try {
          await xmpp.send(toLtx(el));
        } catch (error) {
          logger.debug({ err: error }, 'component send failed; kept for after reconnect');
          return;
        }
        buffer.shift();
      }
    } finally {
      flushing = false;
    }
  }

  return {
    async start(onStanza, hooks) {
      const entity = component({
        service: options.service,
        domain: options.domain,
        password: options.secret,
      });
      xmpp = entity;
      // @xmpp/component's iq callee answers every iq it has no route for with service-unavailable;
      // the service answers its iqs itself, so the middleware chain is detached.
      for (const listener of entity.listeners('element')) entity.off('element', listener);
      // Without an 'error' listener the library's first error crashes the process.
      entity.on('error', (error) =>
        logger.warn({ err: error, condition: error.condition }, 'component error'),
      );
      entity.on('online', () => {
        logger.info({ domain: options.domain }, 'component online');
        const waiters = onlineWaiters;
        onlineWaiters = [];
        for (const resolve of waiters) resolve();
        void flush();
        hooks?.online?.();
      });
      entity.on('stanza', (stanza) => {
        const el = fromLtx(stanza);
        const incoming: Incoming = { id: incomingId(el) };
        // No redelivery over XEP-0114: a failure is logged, the stanza is gone.
        onStanza(el, incoming).catch((error: unknown) =>
          logger.error({ err: error, stanzaId: el.attrs['id'] }, 'component stanza failed'),
        );
      });
      await entity.start();
    },
    async send(el) {
      if (el.attrs['from'] === undefined) throw new Error('a component stanza needs from');
      if (buffer.length >= limit) {
        buffer.shift();
        logger.warn({ limit }, 'component outbound buffer full; oldest stanza dropped');
      }
      buffer.push(el);
      await flush();
    },
    async stop() {
      if (xmpp === undefined) return;
      xmpp.reconnect.stop();
      await xmpp.stop().catch((error: unknown) => logger.debug({ err: error }, 'component stop'));
    },
    online() {
      if (xmpp?.status === 'online') return Promise.resolve();
      return new Promise((resolve) => onlineWaiters.push(resolve));
    },
  };
}

function incomingId(el: Element): string {
  const id = el.attrs['id'];
  if (id === undefined || id === '') return randomUUID();
  return createHash('sha256')
    .update(`${el.attrs['from'] ?? ''}\u0000${id}`)
    .digest('hex')
    .slice(0, 32);
}

function toLtx(el: Element): XmlElement {
  const attrs: Record<string, string> = {};
  for (const [name, value] of Object.entries(el.attrs)) attrs[name] = value;
  return ltx(
    el.name,
    attrs,
    ...el.children.map((child) => (typeof child === 'string' ? child : toLtx(child))),
  );
}

function fromLtx(el: XmlElement): Element {
  const attrs: Record<string, string> = {};
  for (const [name, value] of Object.entries(el.attrs)) if (value !== undefined) attrs[name] = value;
  // xml() links parents, which namespace lookups (getChild with a namespace) rely on.
  return xml(
    el.name,
    attrs,
    ...el.children.map((child) => (typeof child === 'string' ? child : fromLtx(child))),
  );
}
