import { describe, expect, it } from 'vitest';
import { smsGatewayConfigSchema } from './config.js';

const smpp = (over: Record<string, unknown> = {}): unknown => ({
  provider: { kind: 'smpp', host: 'smsc.example.com', systemId: 'esme', password: 'secret', ...over },
});

describe('SMPP provider settings in the config file', () => {
  it('takes TON/NPI, enquire_link, window, response timeout and backoffs', () => {
    const parsed = smsGatewayConfigSchema.parse(
      smpp({
        sourceTon: 5,
        sourceNpi: 0,
        destTon: 1,
        destNpi: 1,
        enquireLinkMs: 15_000,
        responseTimeoutMs: 5_000,
        window: 20,
        reconnect: { initialMs: 500, maxMs: 10_000 },
        throttleBackoff: { initialMs: 200, maxMs: 200 },
        throttleRetries: 0,
        reassemblyTimeoutMs: 60_000,
      }),
    );
    expect(parsed.provider).toMatchObject({ sourceTon: 5, window: 20, reconnect: { maxMs: 10_000 } });
  });

  it.each([
    ['a TON out of range', { destTon: 7 }],
    ['an NPI out of range', { sourceNpi: 19 }],
    ['a window of 0', { window: 0 }],
    ['a zero response timeout', { responseTimeoutMs: 0 }],
    ['a backoff whose maximum is below its start', { reconnect: { initialMs: 1000, maxMs: 10 } }],
    ['a system_id over 15 characters', { systemId: 'x'.repeat(16) }],
  ])('refuses %s', (_what, over) => {
    expect(smsGatewayConfigSchema.safeParse(smpp(over)).success).toBe(false);
  });
});
