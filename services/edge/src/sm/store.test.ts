import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisResumptionStore } from './redis.js';
import { createMemoryResumptionStore, type ResumptionStore } from './store.js';

let server: RedisServer;
let redis: Redis;
let n = 0;

beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.url);
});
afterAll(async () => {
  await redis.quit();
  await server.dispose();
});

const drivers: [string, () => ResumptionStore][] = [
  ['memory', () => createMemoryResumptionStore()],
  ['redis', () => createRedisResumptionStore(redis)],
];
const TTL = 60_000;
const stanza = (id: string) => ({ id, xml: `<message id='${id}'/>`, ts: 1 });

describe.each(drivers)('resumption store (%s)', (_name, make) => {
  it('keeps unacked stanzas and counters, and hands them to the stream that takes the session over', async () => {
    const store = make();
    const sessionId = `s${++n}`;
    const epoch = await store.create(
      { sessionId, bare: 'juliet@localhost', fullJid: 'juliet@localhost/phone', edgeId: 'edge-a' },
      TTL,
    );
    expect(await store.push(sessionId, epoch, [stanza('1'), stanza('2'), stanza('3')], TTL)).toEqual({
      kind: 'stored',
    });
    await store.update(sessionId, epoch, { trim: 1, acked: 1, inbound: 7 }, TTL);
    // Another user cannot take it.
    expect(await store.take(sessionId, 'romeo@localhost', 'edge-b', TTL)).toEqual({
      kind: 'gone',
      inbound: null,
    });
    const taken = await store.take(sessionId, 'juliet@localhost', 'edge-b', TTL);
    expect(taken).toEqual({
      kind: 'taken',
      state: {
        sessionId,
        fullJid: 'juliet@localhost/phone',
        previousEdgeId: 'edge-a',
        epoch: epoch + 1,
        inbound: 7,
        acked: 1,
        sent: 3,
        unacked: [stanza('2'), stanza('3')],
      },
    });
    // The old holder is fenced off and told where the session went.
    expect(await store.push(sessionId, epoch, [stanza('4')], TTL)).toEqual({
      kind: 'moved',
      edgeId: 'edge-b',
    });
    await store.update(sessionId, epoch, { trim: 2, acked: 3, inbound: 9 }, TTL);
    expect(await store.end(sessionId, epoch)).toBeNull();
    // The new holder ends it; a late resume learns the inbound count.
    expect(await store.end(sessionId, epoch + 1)).toEqual([stanza('2'), stanza('3')]);
    expect(await store.take(sessionId, 'juliet@localhost', 'edge-c', TTL)).toEqual({
      kind: 'gone',
      inbound: 7,
    });
    expect(await store.push(sessionId, epoch + 1, [stanza('5')], TTL)).toEqual({ kind: 'gone' });
  });

  it('knows nothing of a session that never enabled stream management', async () => {
    const store = make();
    expect(await store.take(`none${++n}`, 'juliet@localhost', 'edge-a', TTL)).toEqual({
      kind: 'gone',
      inbound: null,
    });
  });
});
