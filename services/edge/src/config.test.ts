import { DEFAULT_LIMITS } from '@switchboard/xml';
import { describe, expect, it } from 'vitest';
import { edgeConfigSchema } from './config.js';

describe('edge config: XML parser caps', () => {
  it('defaults to the parser defaults and takes configured values', () => {
    const defaults = edgeConfigSchema.parse({ domains: ['localhost'] }).limits;
    expect({
      maxStanzaBytes: defaults.maxStanzaBytes,
      maxDepth: defaults.maxDepth,
      maxAttributes: defaults.maxAttributes,
      maxNameLength: defaults.maxNameLength,
      maxAttributeValueLength: defaults.maxAttributeValueLength,
    }).toEqual(DEFAULT_LIMITS);
    const set = edgeConfigSchema.parse({
      domains: ['localhost'],
      limits: { maxDepth: 12, maxAttributes: 20, maxNameLength: 100, maxAttributeValueLength: 8192 },
    }).limits;
    expect([set.maxDepth, set.maxAttributes, set.maxNameLength, set.maxAttributeValueLength]).toEqual([
      12, 20, 100, 8192,
    ]);
  });

  it('rejects caps that are not integers or too small for ordinary XMPP, naming each', () => {
    const result = edgeConfigSchema.safeParse({
      domains: ['localhost'],
      limits: { maxDepth: 2, maxAttributes: 1.5, maxNameLength: 0, maxAttributeValueLength: 100 },
    });
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((issue) => issue.path.join('.')).sort()).toEqual([
      'limits.maxAttributeValueLength',
      'limits.maxAttributes',
      'limits.maxDepth',
      'limits.maxNameLength',
    ]);
  });
});
