import { partitionOf } from '@switchboard/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Harness, PARTITIONS } from './test/harness.js';

let h: Harness;
afterEach(async () => {
  await h.close();
});

describe('partitions', () => {
  it('do inbound processing in the recipient’s partition on the router that owns it, keeping order', async () => {
    const julietP = partitionOf('juliet@example.com', PARTITIONS);
    const romeoP = partitionOf('romeo@example.net', PARTITIONS);
    expect(julietP).not.toBe(romeoP);
    const first = Array.from({ length: PARTITIONS }, (_, p) => p).filter(
      (p) => p !== romeoP && (p === julietP || p % 2 === 0),
    );
    const second = Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => !first.includes(p));
    h = await Harness.start({ routers: [first, second] });
    const romeo = await h.login('romeo@example.net/orchard');
    await romeo.send('<presence/>');
    romeo.received();
    const juliet = await h.login('juliet@example.com/balcony');
    // Romeo's session is known only to the router owning his partition.
    expect(await h.registries[0]!.list('romeo@example.net')).toEqual([]);
    expect(await h.registries[1]!.list('romeo@example.net')).toHaveLength(1);

    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) {
      ids.push(
        await juliet.send(`<message to='romeo@example.net' type='chat'><body>${i}</body></message>`, {
          settle: false,
        }),
      );
    }
    await h.settle();
    expect(romeo.received().map((el) => el.getChildText('body'))).toEqual(['1', '2', '3', '4', '5']);
    // Each message was forwarded by the first router to Romeo's partition, marked for inbound processing.
    const forwarded = h.routeLog.filter((r) => r.env.stage === 'in' && ids.includes(r.env.id));
    expect(forwarded.map((r) => [r.stream, r.env.id])).toEqual(ids.map((id) => [`route:{${romeoP}}`, id]));
    const handledBySecond = h.processedBy
      .filter((b) => b.router === 1)
      .flatMap((b) => b.entries.map((e) => e.stream));
    expect(handledBySecond.filter((s) => s === `route:{${romeoP}}`).length).toBeGreaterThanOrEqual(5);
  });

  it('handle the recipient in the same pass when one router owns both partitions (nothing forwarded)', async () => {
    h = await Harness.start();
    const romeo = await h.login('romeo@example.net/orchard');
    await romeo.send('<presence/>');
    romeo.received();
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send("<message to='romeo@example.net' type='chat'><body>hi</body></message>");
    expect(romeo.received()).toHaveLength(1);
    expect(h.routeLog.filter((r) => r.env.stage === 'in')).toEqual([]);
  });

  it('can change the owned partitions at runtime', async () => {
    h = await Harness.start({ routers: [[]] });
    const all = Array.from({ length: PARTITIONS }, (_, p) => p);
    h.routers[0]!.setOwnedPartitions(all);
    expect(h.routers[0]!.ownedPartitions).toEqual(all);
    const juliet = await h.login('juliet@example.com/balcony');
    await juliet.send("<iq to='example.com' id='p' type='get'><ping xmlns='urn:xmpp:ping'/></iq>");
    expect(juliet.received().map((el) => el.attrs['type'])).toEqual(['result']);
  });
});
