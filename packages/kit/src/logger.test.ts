import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { captureLogs } from './test/capture-logs.js';

describe('createLogger', () => {
  it('writes one JSON object per line with service, pid, time and level name', () => {
    const raw: string[] = [];
    const logger = createLogger({
      service: 'edge',
      destination: { write: (chunk: string) => void raw.push(chunk) },
    });
    logger.info({ port: 5222 }, 'listening');
    logger.warn('second event');
    expect(raw).toHaveLength(2);
    for (const chunk of raw)
      expect(chunk.endsWith('\n') && chunk.indexOf('\n') === chunk.length - 1).toBe(true);
    const first = JSON.parse(raw[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({
      service: 'edge',
      pid: process.pid,
      level: 'info',
      msg: 'listening',
      port: 5222,
    });
    expect(Number.isNaN(Date.parse(String(first['time'])))).toBe(false);
    expect(JSON.parse(raw[1]!)).toMatchObject({ level: 'warn', msg: 'second event' });
  });

  it('carries edgeId, sessionId and envelopeId bound on child loggers', () => {
    const { lines, destination } = captureLogs();
    const logger = createLogger({
      service: 'edge',
      bindings: { edgeId: 'edge-1' },
      destination,
    });
    const session = logger.child({ sessionId: 's-42' });
    session.child({ envelopeId: 'env-7' }).info('routed');
    expect(lines[0]).toMatchObject({
      service: 'edge',
      edgeId: 'edge-1',
      sessionId: 's-42',
      envelopeId: 'env-7',
      msg: 'routed',
    });
  });

  it('drops events below the configured level and censors redacted paths', () => {
    const { lines, destination } = captureLogs();
    const logger = createLogger({
      service: 'router',
      level: 'warn',
      redact: ['account.password'],
      destination,
    });
    logger.info('hidden');
    logger.error({ account: { user: 'juliet', password: 'secret' } }, 'login failed');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'error', account: { user: 'juliet', password: '[Redacted]' } });
  });

  it('serializes errors with type, message and stack', () => {
    const { lines, destination } = captureLogs();
    const logger = createLogger({
      service: 'router',
      destination,
    });
    logger.error({ err: new RangeError('boom') }, 'failed');
    expect(lines[0]?.['err']).toMatchObject({ type: 'RangeError', message: 'boom' });
    expect(String((lines[0]?.['err'] as { stack: string }).stack)).toContain('RangeError: boom');
  });
});
