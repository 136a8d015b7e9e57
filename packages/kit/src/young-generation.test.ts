import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { YOUNG_GENERATION_FLAG } from './young-generation.js';

/** new_space size after an allocation burst that survives scavenges, in a fresh Node process. */
function newSpaceAfterBurst(capped: boolean): number {
  const script = `
    const v8 = require('node:v8');
    if (${String(capped)}) v8.setFlagsFromString(${JSON.stringify(YOUNG_GENERATION_FLAG)});
    const keep = [];
    for (let round = 0; round < 40; round++) {
      const batch = [];
      for (let i = 0; i < 20000; i++) batch.push({ i, s: 'x'.repeat(i % 50) });
      keep.push(batch);
      if (keep.length > 3) keep.shift();
    }
    const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    process.stdout.write(String(space.space_size));
  `;
  return Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
}

describe('capYoungGeneration', () => {
  it('keeps the young generation from growing under an allocation burst', () => {
    const capped = newSpaceAfterBurst(true);
    const free = newSpaceAfterBurst(false);
    expect(capped).toBeLessThan(free);
    expect(capped).toBeLessThanOrEqual(4 * 1024 * 1024);
  });
});
