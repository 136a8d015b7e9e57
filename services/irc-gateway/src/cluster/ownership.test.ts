import { describe, expect, it } from 'vitest';
import { ownerOf } from './ownership.js';

describe('rendezvous ownership of users across replicas', () => {
  const users = Array.from({ length: 2000 }, (_, i) => `user${i}@example.com`);

  it('gives every user one owner among the live replicas, spread about evenly', () => {
    const counts = new Map<string, number>();
    for (const user of users) {
      const owner = ownerOf(user, ['a', 'b', 'c'])!;
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['a', 'b', 'c']);
    for (const count of counts.values()) expect(count).toBeGreaterThan(500);
    expect(ownerOf('x@example.com', [])).toBeUndefined();
  });

  it('moves only the users of a replica that left', () => {
    for (const user of users) {
      const before = ownerOf(user, ['a', 'b', 'c']);
      const after = ownerOf(user, ['a', 'c']);
      if (before !== 'b') expect(after).toBe(before);
    }
  });
});
