import { createHash } from 'node:crypto';

/**
 * Which partitions each live member (router, s2s node) should own. Every
 * member computes it from the same sorted member list, so they agree
 * without talking.
 *
 * Rendezvous hashing with bounded load: each partition prefers members in
 * the order of hash(member, partition), and takes the first that has room
 * (floor(P / n), or one more for the first P mod n to get there). Loads
 * differ by at most one, and a member joining or leaving moves few
 * partitions besides its own share.
 */
export function assignPartitions(memberIds: readonly string[], partitions: number): Map<string, number[]> {
  const members = [...new Set(memberIds)].sort();
  const out = new Map<string, number[]>(members.map((id) => [id, []]));
  if (members.length === 0) return out;
  // Loads of floor(P / n), and P mod n members one more: whichever fill up first.
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

function weight(memberId: string, partition: number): number {
  return createHash('sha1').update(`${memberId}\0${partition}`).digest().readUInt32BE(0);
}
