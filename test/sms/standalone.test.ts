// `pnpm start` with an `sms` section: the SMS gateway runs inside the standalone process on the
// in-process bus, the in-process queue and SQLite registrations, against a real SMPP SMSC.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deriveCredentials } from '@switchboard/store';
import { build, standaloneConfigSchema, type Standalone } from '@switchboard/standalone';
import { TestSmsc } from '../../services/sms-gateway/src/providers/test/smsc.js';
import {
  SMS_DOMAIN,
  TLS_CERT,
  TLS_KEY,
  chat,
  isChatFrom,
  login,
  quietLogger,
  registerVerified,
  smscCodes,
  type User,
} from './harness.js';

const JULIET_NUMBER = '+15550003333';
const PHONE = '+15551234567';
const PHONE_JID = `${PHONE}@${SMS_DOMAIN}`;

describe('standalone with the SMS gateway in process (config `sms`)', () => {
  const logs: string[] = [];
  let dataDir: string;
  let smsc: TestSmsc;
  let app: Standalone;
  let juliet: User;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-sms-standalone-'));
    smsc = await TestSmsc.start();
    app = build(
      {
        dataDir,
        edge: {
          host: '127.0.0.1',
          ports: { starttls: 0, directTls: 0, http: 0 },
          tls: { keyFile: TLS_KEY, certFile: TLS_CERT },
          sasl: { fakeSaltSecret: 'sms-standalone-fake-salt-secret' },
        },
        sms: {
          provider: {
            kind: 'smpp',
            host: '127.0.0.1',
            port: smsc.port,
            systemId: smsc.credentials.systemId,
            password: smsc.credentials.password,
          },
          http: { port: 0 },
        },
      },
      { logger: quietLogger('sms-standalone', logs) },
    );
    const { tcpPort } = await app.start();
    await app.store.accounts.create('juliet@localhost', await deriveCredentials('juliet-pass'));
    juliet = await login(tcpPort, 'juliet', 'juliet-pass');
  });

  afterAll(async () => {
    await juliet?.stop();
    await app?.close();
    await smsc?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') console.error(logs.slice(-100).join(''));
  });

  it('keeps the SMS gateway off unless the config has an sms section', () => {
    expect(standaloneConfigSchema.parse({}).sms).toBeUndefined();
    expect(standaloneConfigSchema.parse({ sms: { provider: smppProvider() } }).sms).toMatchObject({
      domain: 'sms.localhost',
      maxSegments: 10,
      http: { port: 9283 },
    });
  });

  it('binds to the SMSC at start and exchanges SMS with a registered user in both directions', async () => {
    expect(app.sms?.domain).toBe(SMS_DOMAIN);
    expect(smsc.boundSessions).toBe(1);
    expect((await registerVerified(juliet, JULIET_NUMBER, smscCodes(smsc))).attrs['type']).toBe('result');

    const seen = smsc.submits.length;
    await juliet.send(chat(PHONE_JID, 'Sent from the standalone', 'st-1'));
    await smsc.until(() => smsc.submits.length > seen);
    expect(smsc.submits[seen]!.pdu).toMatchObject({
      source_addr: JULIET_NUMBER.slice(1),
      destination_addr: PHONE.slice(1),
      short_message: { message: 'Sent from the standalone' },
    });

    await smsc.deliver({
      source_addr_ton: 1,
      source_addr: PHONE.slice(1),
      dest_addr_ton: 1,
      destination_addr: JULIET_NUMBER.slice(1),
      short_message: { message: 'Reply to the standalone' },
    });
    const message = await juliet.inbox.next(isChatFrom(PHONE_JID), 'the inbound SMS');
    expect(message.getChildText('body')).toBe('Reply to the standalone');
  });
});

function smppProvider(): { kind: 'smpp'; host: string; systemId: string; password: string } {
  return { kind: 'smpp', host: 'smsc.example.net', systemId: 'esme', password: 'secret' };
}
