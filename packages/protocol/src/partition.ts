/** Default number of route partitions; fixed for the life of a cluster (changing it moves users). */
export const DEFAULT_PARTITIONS = 64;

/**
 * FNV-1a (32-bit) over the UTF-8 bytes of a normalized bare JID, mod `partitions`.
 * Stable across processes and versions: every node must agree on it.
 */
export function partitionOf(bareJid: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1)
    throw new RangeError(`partitions must be a positive integer`);
  let hash = 0x811c9dc5;
  for (let i = 0; i < bareJid.length; i++) {
    let c = bareJid.charCodeAt(i);
    // Encode as UTF-8 on the fly so the hash is that of the bytes, not UTF-16 units.
    if (c < 0x80) {
      hash = fnvStep(hash, c);
    } else if (c < 0x800) {
      hash = fnvStep(hash, 0xc0 | (c >> 6));
      hash = fnvStep(hash, 0x80 | (c & 0x3f));
    } else if (c >= 0xd800 && c < 0xdc00 && i + 1 < bareJid.length) {
      const low = bareJid.charCodeAt(i + 1);
      if (low >= 0xdc00 && low < 0xe000) {
        i++;
        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        hash = fnvStep(hash, 0xf0 | (c >> 18));
        hash = fnvStep(hash, 0x80 | ((c >> 12) & 0x3f));
        hash = fnvStep(hash, 0x80 | ((c >> 6) & 0x3f));
        hash = fnvStep(hash, 0x80 | (c & 0x3f));
      } else {
        hash = threeBytes(hash, c);
      }
    } else {
      hash = threeBytes(hash, c);
    }
  }
  return (hash >>> 0) % partitions;
}

function fnvStep(hash: number, byte: number): number {
  return Math.imul(hash ^ byte, 0x01000193);
}

function threeBytes(hash: number, c: number): number {
  hash = fnvStep(hash, 0xe0 | (c >> 12));
  hash = fnvStep(hash, 0x80 | ((c >> 6) & 0x3f));
  return fnvStep(hash, 0x80 | (c & 0x3f));
}
