import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryBus, type Bus, type PublishItem } from '@switchboard/bus';
import { createLogger } from '@switchboard/kit';
import { decodeDelivery, encodeEnvelope, type Envelope } from '@switchboard/protocol';
import { openEmbeddedStore, type Store } from '@switchboard/store';
import { parseElement, type Element } from '@switchboard/xml';
import { build, createMemorySessionRegistry, type Router } from '../app.js';
import type { RouterConfig } from '../config.js';
import { turnCredentials } from './external-services.js';

const EXTDISCO = 'urn:xmpp:extdisco:2';
const SECRET = 'north';
const NOW = Date.parse('2026-03-01T12:00:00Z');
const JID = 'juliet@example.com/balcony';

let store: Store | undefined;
let bus: Bus | undefined;
afterEach(async () => {
  await store?.close();
  await bus?.close();
});

/** A router with external services configured, driven batch by batch; what it publishes is kept. */
function start(externalServices: RouterConfig['externalServices']): { router: Router; out: PublishItem[] } {
  const out: PublishItem[] = [];
  const inner = createMemoryBus();
  bus = { ...inner, publishBatch: (items) => (out.push(...items), inner.publishBatch(items)) };
  store = openEmbeddedStore({ path: ':memory:' });
  const router = build(
    {
      routerId: 'r',
      domains: ['example.com'],
      components: [],
      partitions: 1,
      ownedPartitions: [0],
      ...(externalServices === undefined ? {} : { externalServices }),
    },
    {
      bus,
      store,
      sessions: createMemorySessionRegistry(),
      logger: createLogger({ service: 'router', level: 'silent' }),
      now: () => NOW,
    },
  );
  return { router, out };
}

let n = 0;
async function send(router: Router, kind: Envelope['kind'], stanza: string): Promise<void> {
  const el = stanza === '' ? undefined : parseElement(stanza, { defaultNamespace: 'jabber:client' });
  if (el !== undefined) el.attrs['from'] = JID;
  const env: Envelope = {
    v: 1,
    id: `e${++n}`,
    kind,
    edgeId: 'edge1',
    sessionId: 's1',
    from: JID,
    to: el?.attrs['to'] ?? '',
    type: el?.attrs['type'] ?? '',
    stanzaId: el?.attrs['id'] ?? '',
    xml: el?.toString() ?? '',
    ts: NOW,
  };
  await router.handleBatch([{ stream: 'route:{0}', id: `${n}-0`, payload: encodeEnvelope(env) }]);
}

async function ask(router: Router, out: PublishItem[], payload: string): Promise<Element> {
  out.length = 0;
  await send(router, 'iq', `<iq type='get' id='q' to='example.com'>${payload}</iq>`);
  const stanzas = out.map((i) => decodeDelivery(i.payload)).filter((d) => d.kind === 'stanza');
  return parseElement(stanzas[0]!.kind === 'stanza' ? stanzas[0]!.xml : '');
}

describe('external service discovery (XEP-0215)', () => {
  const services = {
    secret: SECRET,
    ttlSeconds: 3600,
    services: [
      { type: 'stun', host: 'stun.shakespeare.lit', port: 3478, transport: 'udp' },
      { type: 'turn', host: 'turn.shakespeare.lit', port: 3478, transport: 'udp' },
    ],
  } as const;

  it('mints TURN REST credentials: expiry:user, base64 HMAC-SHA1 of it under the secret', () => {
    const c = turnCredentials(SECRET, 'juliet@example.com', NOW, 3600);
    const expiry = NOW / 1000 + 3600;
    expect(c.username).toBe(`${expiry}:juliet@example.com`);
    expect(c.password).toBe(createHmac('sha1', SECRET).update(c.username).digest('base64'));
    expect(c.expires).toBe(expiry * 1000);
  });

  it('lists STUN and TURN services with credentials for TURN (§3.2, Example 2), filtered by type', async () => {
    const { router, out } = start(services);
    expect(router.features).toContain(EXTDISCO);
    await send(router, 'session-start', '');
    const reply = await ask(router, out, `<services xmlns='${EXTDISCO}'/>`);
    expect(reply.attrs).toMatchObject({ type: 'result', id: 'q', to: JID });
    const list = reply.getChild('services', EXTDISCO)!.getChildren('service');
    expect(list.map((s) => s.attrs['type'])).toEqual(['stun', 'turn']);
    expect(list[0]!.attrs['username']).toBeUndefined();
    const turn = list[1]!.attrs;
    const expected = turnCredentials(SECRET, 'juliet@example.com', NOW, 3600);
    expect(turn).toMatchObject({ host: 'turn.shakespeare.lit', port: '3478', transport: 'udp' });
    expect(turn['username']).toBe(expected.username);
    expect(turn['password']).toBe(expected.password);
    expect(turn['expires']).toBe('2026-03-01T13:00:00Z');
    const onlyTurn = await ask(router, out, `<services xmlns='${EXTDISCO}' type='turn'/>`);
    expect(onlyTurn.getChild('services', EXTDISCO)!.getChildren('service')).toHaveLength(1);
    // §3.3: credentials for one service.
    const creds = await ask(
      router,
      out,
      `<credentials xmlns='${EXTDISCO}'><service host='turn.shakespeare.lit' type='turn'/></credentials>`,
    );
    expect(creds.getChild('credentials', EXTDISCO)!.getChild('service')!.attrs['password']).toBe(
      expected.password,
    );
    const unknown = await ask(
      router,
      out,
      `<credentials xmlns='${EXTDISCO}'><service host='nowhere.lit' type='turn'/></credentials>`,
    );
    expect(unknown.attrs['type']).toBe('error');
  });

  it('is not announced when no services are configured', () => {
    const { router } = start(undefined);
    expect(router.features).not.toContain(EXTDISCO);
  });
});
