import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload } from './base64.js';
import {
  channelBindingFeature,
  createMechanism,
  mechanismsFor,
  SASL_CHANNEL_BINDING_NS,
} from './mechanisms.js';
import { accountsOf, contextFor } from './test/context.js';

describe('mechanismsFor', () => {
  it('offers -PLUS first, then SCRAM, then PLAIN on TLS with channel binding', () => {
    expect(mechanismsFor({ tls: true, bindings: ['tls-exporter', 'tls-server-end-point'] })).toEqual([
      'SCRAM-SHA-256-PLUS',
      'SCRAM-SHA-1-PLUS',
      'SCRAM-SHA-256',
      'SCRAM-SHA-1',
      'PLAIN',
    ]);
  });

  it('leaves out -PLUS when no binding type is available and PLAIN when unencrypted', () => {
    expect(mechanismsFor({ tls: true, bindings: [] })).toEqual(['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
    expect(mechanismsFor({ tls: false, bindings: ['tls-exporter'] })).toEqual([
      'SCRAM-SHA-256',
      'SCRAM-SHA-1',
    ]);
  });
});

describe('XEP-0440 channel-binding feature', () => {
  it('lists the offered binding types under urn:xmpp:sasl-cb:0, and none without TLS', () => {
    expect(SASL_CHANNEL_BINDING_NS).toBe('urn:xmpp:sasl-cb:0');
    expect(channelBindingFeature({ tls: true, bindings: ['tls-exporter', 'tls-server-end-point'] })).toEqual([
      'tls-exporter',
      'tls-server-end-point',
    ]);
    expect(channelBindingFeature({ tls: false, bindings: ['tls-exporter'] })).toEqual([]);
  });
});

describe('createMechanism', () => {
  it('refuses a mechanism we do not implement with invalid-mechanism', async () => {
    const ctx = contextFor(await accountsOf({}));
    expect(await createMechanism('DIGEST-MD5', ctx).start(null)).toMatchObject({
      kind: 'failure',
      condition: 'invalid-mechanism',
    });
  });

  it('refuses -PLUS on an unencrypted stream with invalid-mechanism, as it was not offered', async () => {
    const ctx = contextFor(await accountsOf({}), { bindings: ['tls-exporter'] });
    expect(
      await createMechanism('SCRAM-SHA-256-PLUS', ctx).start(Buffer.from('p=tls-exporter,,n=u,r=x')),
    ).toMatchObject({
      kind: 'failure',
      condition: 'invalid-mechanism',
    });
  });
});

describe('SASL payload encoding (RFC 6120 §6.4.2)', () => {
  it('reads absent text as no initial response and "=" as an empty one', () => {
    expect(decodePayload(null)).toEqual({ ok: true, data: null });
    expect(decodePayload('')).toEqual({ ok: true, data: null });
    expect(decodePayload('=')).toEqual({ ok: true, data: Buffer.alloc(0) });
  });

  it('decodes the RFC 6120 §9.2.1 example initial response', () => {
    const result = decodePayload('biwsbj1qdWxpZXQscj1vTXNUQUF3QUFBQU1BQUFBTlAwVEFBQUFBQUJQVTBBQQ==');
    expect(result).toEqual({ ok: true, data: Buffer.from('n,,n=juliet,r=oMsTAAwAAAAMAAAANP0TAAAAAABPU0AA') });
  });

  it.each(['bm,w', 'bmws\n', 'bmw', 'bmx=', 'b==='])('answers incorrect-encoding for %j', (text) => {
    expect(decodePayload(text)).toMatchObject({ kind: 'failure', condition: 'incorrect-encoding' });
  });

  it('writes no character data for an empty challenge and base64 otherwise', () => {
    expect(encodePayload(Buffer.alloc(0))).toBe('');
    expect(encodePayload(undefined)).toBe('');
    expect(encodePayload(Buffer.from('v=rmF9pqV8S7suAoZWja4dJRkFsKQ='))).toBe(
      'dj1ybUY5cHFWOFM3c3VBb1pXamE0ZEpSa0ZzS1E9',
    );
  });
});
