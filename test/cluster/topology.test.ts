import { client, xml, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore, deriveCredentials, type Store } from '@switchboard/store';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { buildWorkspace, Inbox } from '../e2e/deployments.js';
import {
  composeServices,
  edgeAddress,
  runDir,
  startEdge,
  startHaproxy,
  startRouter,
  type ComposeService,
  type LineProcess,
  type LocalEdge,
  type LocalHaproxy,
} from './topology.js';
import type { EdgeAddress } from './haproxy.js';
import { FakeTwilio } from '../../services/sms-gateway/src/providers/test/fake-twilio.js';
import { startComposeService, type ServiceProcess } from '../ops/compose-processes.js';
import { waitFor } from '../ops/wait.js';
import { registerVerified, twilioCodes } from '../sms/harness.js';

// docker-compose.yml run as local processes: redis-server with the compose command's AOF settings,
// haproxy with the shipped template, 3 edges and the 2 routers, each with its compose environment.
// Clients only ever connect through haproxy, as they would to the compose deployment.

const DOMAIN = 'localhost';

interface Connection {
  readonly jid: string;
  readonly xmpp: Client;
  /** Settles when the stream is gone (closed or its edge died). */
  readonly closed: Promise<void>;
}

interface IqCaller {
  request(el: Element, timeout?: number): Promise<Element>;
}

interface IqCallee {
  set(xmlns: string, name: string, handler: () => object): void;
}

const open = new Set<Client>();

/** Logs `user` in through haproxy; every stanza it receives goes to `inbox`. */
async function connect(port: number, user: string, resource: string, inbox: Inbox): Promise<Connection> {
  const xmpp = client({
    service: `xmpp://127.0.0.1:${port}`,
    domain: DOMAIN,
    username: user,
    password: `${user}-secret`,
    resource,
  });
  // The test decides when and where a client comes back.
  xmpp.reconnect.stop();
  // Opening a stream waits 2 s by default; logins on freshly started (cold) processes take longer.
  (xmpp as unknown as { timeout: number }).timeout = 10_000;
  xmpp.on('stanza', (s: Element) => inbox.push(s));
  xmpp.on('error', () => undefined);
  (xmpp as unknown as { iqCallee: IqCallee }).iqCallee.set('jabber:iq:roster', 'query', () => ({}));
  const closed = new Promise<void>((resolve) => xmpp.once('disconnect', () => resolve()));
  open.add(xmpp);
  await xmpp.start();
  return { jid: xmpp.jid?.toString() ?? `${user}@${DOMAIN}/${resource}`, xmpp, closed };
}

/**
 * What a real client does after its stream died: try again, a few times. Right after a kill, haproxy
 * may still pick the dead edge for one attempt until its health check marks it down.
 */
async function reconnect(attempt: () => Promise<Connection>, tries = 3): Promise<Connection> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (i >= tries) throw error;
    }
  }
}

/** A XEP-0199 ping of the server, which the router answers: the stanzas sent before it were accepted. */
async function ping(conn: Connection, timeoutMs: number): Promise<void> {
  const caller = (conn.xmpp as unknown as { iqCaller: IqCaller }).iqCaller;
  const dead = conn.closed.then(() => Promise.reject(new Error('stream closed')));
  await Promise.race([
    caller.request(
      xml('iq', { type: 'get', to: DOMAIN }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
      timeoutMs,
    ),
    dead,
  ]);
}

async function metric(edge: EdgeAddress, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${edge.ops}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('docker-compose topology as processes (haproxy, 3 edges, 2 routers, the SMS gateway, Redis with AOF)', () => {
  let compose: Record<string, ComposeService> = {};
  let redis: RedisServer | undefined;
  let dir: { path: string; remove(): Promise<void> } | undefined;
  let store: Store | undefined;
  let haproxy: LocalHaproxy | undefined;
  const edges: LocalEdge[] = [];
  const routers: LineProcess[] = [];
  let fourth: EdgeAddress | undefined;
  let sms: ServiceProcess | undefined;
  let twilio: FakeTwilio | undefined;

  const service = (name: string): ComposeService => {
    const found = compose[name];
    if (found === undefined) throw new Error(`docker-compose.yml has no service ${name}`);
    return found;
  };
  const processes = (): LineProcess[] => [
    ...routers,
    ...edges.map((e) => e.process),
    ...(haproxy === undefined ? [] : [haproxy.process]),
    ...(sms === undefined ? [] : [sms.process]),
  ];

  beforeAll(async () => {
    await buildWorkspace();
    compose = await composeServices();
    dir = await runDir();
    // The compose command's arguments after `redis-server` (AOF, fsync every second, no RDB).
    redis = await startRedisServer({ args: service('redis').command.slice(1) });
    for (const name of ['router-1', 'router-2'])
      routers.push(await startRouter(name, service(name), redis.url));
    const addresses = await Promise.all(['edge1', 'edge2', 'edge3'].map(edgeAddress));
    fourth = await edgeAddress('edge4');
    edges.push(
      ...(await Promise.all(addresses.map((a) => startEdge(service('edge'), a, redis!.url, dir!.path)))),
    );
    // The 4th edge is in haproxy's list from the start, as a compose server-template slot is.
    haproxy = await startHaproxy([...addresses, fourth], fourth.name, dir.path);
    store = createRedisStore({ url: redis.url });
  }, 60_000);

  afterAll(async () => {
    await Promise.all([...open].map((c) => c.stop().catch(() => undefined)));
    open.clear();
    await Promise.all(processes().map((p) => p.kill()));
    await store?.close().catch(() => undefined);
    await twilio?.close();
    await redis?.dispose();
    await dir?.remove();
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') {
      process.stderr.write(
        `${processes()
          .map((p) => p.report())
          .join('\n')}\n`,
      );
    }
  });

  it('loses no accepted message and duplicates none (by stanza-id) when an edge and a router are SIGKILLed mid-traffic, and sends new connections to a 4th edge once it is ready (ARCHITECTURE.md, "Delivery guarantees")', async () => {
    const port = haproxy!.xmppPort;
    const PAIRS = 6;
    const PER_PAIR = 60;
    // A quarter of the way in, the first edge and the second router die together.
    const KILL_AT = (PAIRS * PER_PAIR) / 4;
    const pairs = Array.from({ length: PAIRS }, (_, i) => ({
      sender: `sender${i}`,
      recipient: `recipient${i}`,
    }));
    for (const user of [...pairs.flatMap((p) => [p.sender, p.recipient]), 'late0', 'late1', 'late2']) {
      await store!.accounts.create(`${user}@${DOMAIN}`, await deriveCredentials(`${user}-secret`));
    }
    // The router that dies holds partitions when it does.
    await routers[1]!.waitFor((line) => heldCount(line) > 0, 'router-2 holding partitions');
    const deadEdgeId = edgeIdOf(edges[0]!.process);

    let reconnections = 0;
    let stopping = false;
    /**
     * A recipient kept online: when its edge dies it comes back through haproxy with the same
     * resource, as clients do; the new session replaces the dead one (RFC 6120 §7.7.2.2), so what
     * was queued for the dead one is re-routed to it by the janitor.
     */
    const recipients = pairs.map(({ recipient }) => {
      const inbox = new Inbox();
      let current: Connection | undefined;
      // Available (initial presence) and known to be so by the router (the ping is answered after
      // the presence on the same partition), so no message goes to storage for want of a session.
      const online = async (): Promise<Connection> => {
        const conn = await connect(port, recipient, 'in', inbox);
        await conn.xmpp.send(xml('presence'));
        await ping(conn, 15_000);
        current = conn;
        return conn;
      };
      const first = online();
      const kept = (async () => {
        let conn = await first;
        for (;;) {
          await conn.closed;
          if (stopping) return;
          reconnections++;
          conn = await online();
        }
      })();
      kept.catch(() => undefined);
      return {
        user: recipient,
        inbox,
        first,
        kept,
        online,
        close: async () => {
          await current?.xmpp.stop().catch(() => undefined);
        },
      };
    });
    await Promise.all(recipients.map((r) => r.first));

    const accepted = pairs.map(() => new Set<number>());
    const unconfirmed = pairs.map(() => new Set<number>());
    let acceptedTotal = 0;
    let killed: Promise<void> | undefined;
    const senders = await Promise.all(
      pairs.map(async ({ sender, recipient }, i) => {
        const ignored = new Inbox();
        let generation = 0;
        let conn = await connect(port, sender, `out-${generation++}`, ignored);
        for (let k = 0; k < PER_PAIR; k++) {
          try {
            await conn.xmpp.send(numbered(recipient, String(k)));
            // Answered after every earlier stanza of this stream was routed (same partition, in order).
            await ping(conn, 15_000);
            accepted[i]!.add(k);
            if (++acceptedTotal === KILL_AT) {
              killed = Promise.all([edges[0]!.process.kill(), routers[1]!.kill()]).then(() => undefined);
            }
          } catch {
            // The stream died with message k in flight: the server may or may not have taken it.
            unconfirmed[i]!.add(k);
            reconnections++;
            conn = await reconnect(() => connect(port, sender, `out-${generation++}`, ignored));
          }
        }
        return conn;
      }),
    );
    expect(killed).toBeDefined();
    await killed;
    // Clients of the dead edge came back through haproxy, which sent them to live edges.
    expect(reconnections).toBeGreaterThan(0);

    // Deliveries queued for sessions of the dead edge are re-routed by the janitor once the edge is
    // declared dead; then every recipient reconnects and collects what went to offline storage.
    await routers[0]!.waitFor(
      (line) => logField(line, 'msg') === 'dead edge forgotten' && logField(line, 'edgeId') === deadEdgeId,
      `the janitor forgetting ${deadEdgeId}`,
      30_000,
    );
    stopping = true;
    await Promise.all(recipients.map((r) => r.close()));
    await Promise.all(recipients.map((r) => r.kept));
    await Promise.all(recipients.map((r) => r.online()));

    const from = (sender: string) => (s: Element) =>
      s.is('message') && String(s.attrs.from).startsWith(`${sender}@${DOMAIN}/`);
    const bodies = (i: number): string[] =>
      recipients[i]!.inbox.history.filter(from(pairs[i]!.sender)).map((s) => s.getChildText('body') ?? '');
    await Promise.all(
      pairs.map(async ({ sender, recipient }, i) => {
        const inbox = recipients[i]!.inbox;
        for (const k of accepted[i]!) {
          if (!bodies(i).includes(String(k))) {
            await inbox.next(
              (s) => from(sender)(s) && s.getChildText('body') === String(k),
              `message ${k} from ${sender}`,
              10_000,
            );
          }
        }
        // A fence behind the last: a duplicate delivered late would show up before it.
        await senders[i]!.xmpp.send(numbered(recipient, 'end'));
        await inbox.next(
          (s) => from(sender)(s) && s.getChildText('body') === 'end',
          `the end marker from ${sender}`,
          10_000,
        );
      }),
    );
    for (let i = 0; i < PAIRS; i++) {
      const label = `${pairs[i]!.sender} → ${pairs[i]!.recipient}`;
      // A message the dead edge wrote to a recipient that had not acked it yet (XEP-0198) is
      // redelivered, as XEP-0198 §5 prescribes for unacked stanzas: with the same XEP-0359
      // stanza-id (the key clients deduplicate on) and a XEP-0203 delay. Counted by stanza-id,
      // every accepted message arrives exactly once, and a message whose stream died in flight
      // at most once.
      const copies = new Map<string, Element[]>();
      for (const s of recipients[i]!.inbox.history.filter(from(pairs[i]!.sender))) {
        const body = s.getChildText('body') ?? '';
        if (body === 'end') continue;
        copies.set(body, [...(copies.get(body) ?? []), s]);
      }
      const counts = new Map<string, number>();
      for (const [body, list] of copies) {
        const ids = new Set(list.map((s) => String(s.getChild('stanza-id', 'urn:xmpp:sid:0')?.attrs.id)));
        expect(ids.size, `${label}: message ${body} under one stanza-id`).toBe(1);
        for (const again of list.slice(1)) {
          expect(
            again.getChild('delay', 'urn:xmpp:delay'),
            `${label}: redelivered ${body} is delayed`,
          ).toBeDefined();
        }
        counts.set(body, ids.size);
      }
      for (const k of accepted[i]!) expect(counts.get(String(k)), `${label}: message ${k}`).toBe(1);
      for (const [body, n] of counts) {
        expect(
          accepted[i]!.has(Number(body)) || unconfirmed[i]!.has(Number(body)),
          `${label}: unexpected ${body}`,
        ).toBe(true);
        expect(n, `${label}: message ${body}`).toBe(1);
      }
      expect(accepted[i]!.size + unconfirmed[i]!.size, label).toBe(PER_PAIR);
    }

    // A 4th edge joins: once its /readyz answers, haproxy marks it UP and, holding no connection
    // while the others hold several each, it takes the next ones (leastconn).
    const joined = await startEdge(service('edge'), fourth!, redis!.url, dir!.path);
    edges.push(joined);
    await haproxy!.serverState(fourth!.name, 'UP');
    const before = await metric(joined, 'edge_connections_total');
    const late = await Promise.all(
      ['late0', 'late1', 'late2'].map((u) => connect(port, u, 'new', new Inbox())),
    );
    expect(before).toBe(0);
    expect(await metric(joined, 'edge_open_connections')).toBe(late.length);
    // And they are served like any other: one of them reaches a recipient on another edge.
    await late[0]!.xmpp.send(numbered(pairs[0]!.recipient, 'from the new edge'));
    await recipients[0]!.inbox.next(
      (s) => s.is('message') && s.getChildText('body') === 'from the new edge',
      'a message sent through the 4th edge',
    );
  }, 60_000);

  it('sends a chat message to an SMS contact through haproxy, an edge, a router and the SMS gateway to the provider', async () => {
    // The SMS gateway with its compose environment, started after the failover test (which keeps
    // the conditions it was written for); only the provider's API is a local fake Twilio holding
    // the account of .env.example.
    const provider = JSON.parse(service('sms-gateway').environment['SWITCHBOARD_PROVIDER']!) as Record<
      string,
      string
    >;
    twilio = await FakeTwilio.start(
      { [provider['accountSid']!]: provider['authToken']! },
      provider['publicUrl']!,
    );
    sms = await startComposeService(
      'sms-gateway',
      'sms-gateway',
      service('sms-gateway'),
      redis!.url,
      dir!.path,
      {
        SWITCHBOARD_PROVIDER: JSON.stringify({ ...provider, baseUrl: twilio.baseUrl }),
      },
    );
    const smsDomain = service('sms-gateway').environment['SWITCHBOARD_DOMAIN']!;
    expect(service('router-1').environment['SWITCHBOARD_COMPONENTS']?.split(',')).toContain(smsDomain);
    await store!.accounts.create(`texter@${DOMAIN}`, await deriveCredentials('texter-secret'));
    const inbox = new Inbox();
    const conn = await connect(haproxy!.xmppPort, 'texter', 'phone', inbox);
    const caller = (conn.xmpp as unknown as { iqCaller: IqCaller }).iqCaller;
    // XEP-0077 §3.1: register a number with the gateway, then text a contact.
    // The gateway texts a code to the number first (through the fake Twilio) and registers it
    // once the code comes back.
    await registerVerified(
      { iq: (el) => caller.request(el, 15_000) },
      '+15550004444',
      twilioCodes(twilio),
      smsDomain,
    );
    await conn.xmpp.send(
      xml(
        'message',
        { to: `+15550005555@${smsDomain}`, type: 'chat', id: 'sms-1' },
        xml('body', {}, 'through the cluster'),
      ),
    );
    const sent = await waitFor(
      () => Promise.resolve(twilio!.requests.find((r) => r.params.get('Body') === 'through the cluster')),
      (r) => r !== undefined,
    );
    expect(sent?.params.get('From')).toBe('+15550004444');
    expect(sent?.params.get('To')).toBe('+15550005555');
    await conn.xmpp.stop();
  }, 60_000);
});

function numbered(recipient: string, body: string): Element {
  return xml(
    'message',
    { to: `${recipient}@${DOMAIN}`, type: 'chat', id: `m-${body}` },
    xml('body', {}, body),
  );
}

function logField(line: string, key: string): unknown {
  if (!line.startsWith('{')) return undefined;
  try {
    return (JSON.parse(line) as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function heldCount(line: string): number {
  const msg = logField(line, 'msg');
  if (msg !== 'router started' && msg !== 'partition ownership changed') return 0;
  const held = logField(line, 'held');
  return Array.isArray(held) ? held.length : 0;
}

function edgeIdOf(edge: LineProcess): string {
  const line = edge.lines.find((l) => logField(l, 'msg') === 'edge started');
  const id = line === undefined ? undefined : logField(line, 'edgeId');
  if (typeof id !== 'string') throw new Error(`${edge.name} logged no edge id`);
  return id;
}
