import type { Consumer } from '@switchboard/bus';
import { Streams, decodeEnvelope } from '@switchboard/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Harness } from './test/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('stanzas a component publishes for inbound processing', () => {
  it('go on to the component that serves their recipient instead of bouncing as to an unknown account', async () => {
    h = await Harness.start();
    const id = h.nextId();
    // A MUC (or any component) writing to a phone of the SMS gateway: both ends are components.
    await h.publish({
      v: 1,
      id,
      kind: 'message',
      edgeId: '',
      sessionId: '',
      from: 'room@conference.example.com/juliet',
      to: '+15551234567@sms.example.com/sms',
      type: 'groupchat',
      stanzaId: 'g1',
      xml: "<message xmlns='jabber:client' from='room@conference.example.com/juliet' to='+15551234567@sms.example.com/sms' type='groupchat' id='g1'><body>hi</body></message>",
      ts: Date.now(),
      stage: 'in',
    });
    await h.settle();
    const service = Streams.service('sms.example.com');
    expect(await h.bus.length(service)).toBe(1);
    await h.bus.ensureGroup(service, 'probe', '0');
    let consumer: Consumer | undefined;
    const seen = await new Promise<string[]>((resolve) => {
      consumer = h!.bus.consume({
        streams: [service],
        group: 'probe',
        consumer: 'probe',
        handler: (entries) => {
          resolve(entries.map((e) => decodeEnvelope(e.payload).id));
          return Promise.resolve();
        },
      });
    });
    expect(seen).toEqual([id]);
    await consumer?.stop();
  });
});
