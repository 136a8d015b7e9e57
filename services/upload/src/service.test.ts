import { describe, expect, it } from 'vitest';
import { createLogger } from '@switchboard/kit';
import { parseElement, type Element } from '@switchboard/xml';
import { createMemoryQuotaLedger } from './quota/ledger.js';
import { NS_UPLOAD, UploadService } from './service.js';
import { verifySlotToken } from './token.js';

const SECRET = 'service-test-secret-0123456789';

function serviceWithOutbox(now = 1_700_000_000_000): { service: UploadService; sent: Element[] } {
  const sent: Element[] = [];
  const service = new UploadService({
    config: {
      domain: 'upload.capulet.lit',
      domains: ['capulet.lit'],
      name: 'HTTP File Upload',
      secret: SECRET,
      maxFileSize: 1000,
      slotTtlSeconds: 300,
      retentionDays: 30,
      sweepIntervalSeconds: 3600,
      quotaBytes: 5000,
      quotaWindowHours: 24,
    },
    ledger: createMemoryQuotaLedger({ bytes: 5000, windowMs: 24 * 3600 * 1000 }),
    send: (el) => {
      sent.push(el);
      return Promise.resolve();
    },
    baseUrl: () => 'https://upload.capulet.lit:5281',
    logger: createLogger({ service: 'upload-test', level: 'silent' }),
    now: () => now,
  });
  return { service, sent };
}

// XEP-0363 §4 Example 4, addressed to our service.
const REQUEST = `<iq from='romeo@capulet.lit/garden' id='step_03' to='upload.capulet.lit' type='get'>
  <request xmlns='urn:xmpp:http:upload:0' filename='très cool.jpg' size='23' content-type='image/jpeg' />
</iq>`;

describe('UploadService', () => {
  it('answers the XEP-0363 example request with a signed slot', async () => {
    const { service, sent } = serviceWithOutbox();
    await service.handle(parseElement(REQUEST));
    const answer = sent[0]!;
    expect(answer.attrs).toMatchObject({
      type: 'result',
      id: 'step_03',
      to: 'romeo@capulet.lit/garden',
      from: 'upload.capulet.lit',
    });
    const slot = answer.getChild('slot', NS_UPLOAD)!;
    const putUrl = new URL(slot.getChild('put')!.attrs['url']!);
    const token = putUrl.searchParams.get('token')!;
    expect(slot.getChild('put')!.getChild('header')!.attrs['name']).toBe('Authorization');
    expect(slot.getChild('put')!.getChild('header')!.getText()).toBe(`Bearer ${token}`);
    const check = verifySlotToken(token, SECRET, 1_700_000_000);
    expect(check).toMatchObject({
      ok: true,
      claims: {
        filename: 'très cool.jpg',
        size: 23,
        contentType: 'image/jpeg',
        owner: 'romeo@capulet.lit',
        expiresAt: 1_700_000_300,
      },
    });
    expect(slot.getChild('get')!.attrs['url']).toBe(
      `https://upload.capulet.lit:5281/upload/${check.ok ? check.claims.slotId : ''}/tr%C3%A8s%20cool.jpg`,
    );
  });

  it('refuses users of other domains with forbidden', async () => {
    const { service, sent } = serviceWithOutbox();
    await service.handle(parseElement(REQUEST.replace('romeo@capulet.lit/garden', 'iago@montague.lit/evil')));
    expect(sent[0]!.attrs['type']).toBe('error');
    expect(sent[0]!.getChild('error')!.attrs['type']).toBe('cancel');
    expect(
      sent[0]!.getChild('error')!.getChild('forbidden', 'urn:ietf:params:xml:ns:xmpp-stanzas'),
    ).toBeDefined();
  });

  it('refuses the server itself (no localpart) with forbidden', async () => {
    const { service, sent } = serviceWithOutbox();
    await service.handle(parseElement(REQUEST.replace('romeo@capulet.lit/garden', 'capulet.lit')));
    expect(
      sent[0]!.getChild('error')!.getChild('forbidden', 'urn:ietf:params:xml:ns:xmpp-stanzas'),
    ).toBeDefined();
  });

  it('refuses an invalid content-type and a non-numeric size with bad-request', async () => {
    const { service, sent } = serviceWithOutbox();
    await service.handle(parseElement(REQUEST.replace("content-type='image/jpeg'", "content-type='jpeg'")));
    await service.handle(parseElement(REQUEST.replace("size='23'", "size='-5'")));
    for (const answer of sent)
      expect(
        answer.getChild('error')!.getChild('bad-request', 'urn:ietf:params:xml:ns:xmpp-stanzas'),
      ).toBeDefined();
  });

  it('grants application/octet-stream when the request names no content-type', async () => {
    const { service, sent } = serviceWithOutbox();
    await service.handle(parseElement(REQUEST.replace("content-type='image/jpeg'", '')));
    const token = new URL(
      sent[0]!.getChild('slot', NS_UPLOAD)!.getChild('put')!.attrs['url']!,
    ).searchParams.get('token')!;
    expect(verifySlotToken(token, SECRET, 0)).toMatchObject({
      claims: { contentType: 'application/octet-stream' },
    });
  });

  it('answers other requests with service-unavailable and ignores results', async () => {
    const { service, sent } = serviceWithOutbox();
    await service.handle(
      parseElement(
        `<iq from='romeo@capulet.lit/garden' id='v' to='upload.capulet.lit' type='get'><query xmlns='jabber:iq:version'/></iq>`,
      ),
    );
    await service.handle(
      parseElement(`<iq from='romeo@capulet.lit/garden' id='r' to='upload.capulet.lit' type='result'/>`),
    );
    await service.handle(
      parseElement(
        `<message from='romeo@capulet.lit/garden' to='upload.capulet.lit'><body>hi</body></message>`,
      ),
    );
    expect(sent).toHaveLength(1);
    expect(
      sent[0]!.getChild('error')!.getChild('service-unavailable', 'urn:ietf:params:xml:ns:xmpp-stanzas'),
    ).toBeDefined();
  });
});
