// Cross-service interop: the SMS gateway as a XEP-0114 component of the real edge. Lives at the
// repository level because services never import each other, even in tests.
import { randomUUID } from 'node:crypto';
import fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@switchboard/kit';
import { ENVELOPE_VERSION, Streams, encodeEnvelope, type Envelope } from '@switchboard/protocol';
import { parseElement } from '@switchboard/xml';
// The real Switchboard edge and its XEP-0114 listener, started the way the edge's own tests start it.
import { startEdge, type TestEdge } from '../../services/edge/test/harness.js';
import { build, type SmsGatewayApp } from '../../services/sms-gateway/src/app.js';
import { TestProvider } from '../../services/sms-gateway/src/core/test/test-provider.js';
import { createMemoryQueue } from '../../services/sms-gateway/src/queue/memory.js';
import { openSqliteRegistrations } from '../../services/sms-gateway/src/registrations/sqlite.js';
import { componentTransport } from '../../services/sms-gateway/src/transports/index.js';

const DOMAIN = 'sms.localhost';
const SECRET = 'sms-shared-secret';

describe('component transport against the Switchboard edge (XEP-0114)', () => {
  let edge: TestEdge;
  let app: SmsGatewayApp;
  const provider = new TestProvider();
  const registrations = openSqliteRegistrations({ path: ':memory:' });
  const http = fastify();

  beforeAll(async () => {
    edge = await startEdge({
      components: [{ domain: DOMAIN, secret: SECRET }],
      ports: { starttls: 0, directTls: 0, http: 0, component: 0 },
    });
    const logger = createLogger({ service: 'sms-test', level: 'silent' });
    const transport = componentTransport({
      service: `xmpp://127.0.0.1:${edge.ports.componentPort!}`,
      domain: DOMAIN,
      secret: SECRET,
      logger,
    });
    app = build(
      { domain: DOMAIN, maxSegments: 10, accountFields: {}, reportTtlMs: 60_000, verifyNumbers: false },
      { transport, provider, registrations, queue: createMemoryQueue({ backoffMs: 5 }), http, logger },
    );
    await app.start();
    await transport.online();
  });

  afterAll(async () => {
    await app.stop();
    await edge.stop();
    await registrations.close();
    await http.close();
  });

  /** What the router would put on `svc:{sms.localhost}` for the edge to hand to the component. */
  async function toComponent(stanza: string): Promise<void> {
    const el = parseElement(stanza);
    const envelope: Envelope = {
      v: ENVELOPE_VERSION,
      id: randomUUID(),
      kind: el.name as Envelope['kind'],
      edgeId: 'edge-x',
      sessionId: 'session-x',
      from: el.attrs['from']!,
      to: el.attrs['to']!,
      type: el.attrs['type'] ?? '',
      stanzaId: el.attrs['id'] ?? '',
      xml: stanza,
      ts: Date.now(),
      stage: 'in',
    };
    await edge.bus.publish(Streams.service(DOMAIN), encodeEnvelope(envelope));
  }

  it('registers, sends an SMS and delivers an inbound SMS through the same translation code', async () => {
    await toComponent(
      `<iq xmlns='jabber:client' from='juliet@localhost/balcony' to='${DOMAIN}' type='set' id='reg1'><query xmlns='jabber:iq:register'><phone>+15551234567</phone></query></iq>`,
    );
    const result = await edge.routes.waitFor((e) => e.stanzaId === 'reg1', 'the registration result');
    expect(result).toMatchObject({
      kind: 'iq',
      type: 'result',
      from: DOMAIN,
      to: 'juliet@localhost/balcony',
    });

    await toComponent(
      `<message xmlns='jabber:client' from='juliet@localhost/balcony' to='+15550001111@${DOMAIN}' type='chat' id='m1'><body>Good night</body></message>`,
    );
    const sms = await provider.sent.waitFor((s) => s.text === 'Good night', 'the SMS');
    expect(sms).toMatchObject({ from: '+15551234567', to: '+15550001111' });

    await provider.events.inbound({
      from: '+15550001111',
      to: '+15551234567',
      text: 'Parting is such sweet sorrow',
      providerMessageId: 'in-1',
      receivedAt: Date.now(),
    });
    const chat = await edge.routes.waitFor((e) => e.stanzaId === 'sms-in-1', 'the inbound chat message');
    expect(chat).toMatchObject({ kind: 'message', from: `+15550001111@${DOMAIN}`, to: 'juliet@localhost' });
    expect(parseElement(chat.xml).getChildText('body')).toBe('Parting is such sweet sorrow');
  });
});
