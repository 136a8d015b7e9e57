import { createHash } from 'node:crypto';

/**
 * Which s2s partitions each live node should own, computed by every node
 * from the same sorted member list so they agree without talking:
 * rendezvous hashing with bounded load (loads differ by at most one; a node
 * joining or leaving moves little besides its own share).
 */
export function assignPartitions(nodes: readonly string[], partitions: number): Map<string, number[]> {
  const members = [...new Set(nodes)].sort();
  const out = new Map<string, number[]>(members.map((id) => [id, []]));
  if (members.length === 0) return out;
  const base = Math.floor(partitions / members.length);
  const extra = partitions % members.length;
  let larger = 0;
  for (let p = 0; p < partitions; p++) {
    const ranked = members
      .map((id) => ({ id, score: weight(id, p) }))
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
    for (const { id } of ranked) {
      const owned = out.get(id)!;
      if (owned.length < base || (owned.length === base && larger < extra)) {
        owned.push(p);
        if (owned.length === base + 1) larger++;
        break;
      }
    }
  }
  return out;
}

function weight(nodeId: string, partition: number): number {
  return createHash('sha1').update(`${nodeId}\0${partition}`).digest().readUInt32BE(0);
}
