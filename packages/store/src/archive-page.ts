import { ArchiveItemNotFoundError } from './errors.js';
import type { ArchiveQuery } from './store.js';

/** Where a page lies in a filtered result set: indices `[from, to)`. */
export interface PageBounds {
  readonly from: number;
  readonly to: number;
  readonly complete: boolean;
}

/**
 * The page XEP-0059 asks for, over the ids of the filtered set in archive
 * order: after `afterId`, before `beforeId`, `max` of them from the start of
 * that range, or from its end when paging backwards (`<before/>`). Shared by
 * both drivers so their pages agree.
 */
/** The `ids` filter of a query over the ids that passed the others, in archive order. */
export function selectIds(ids: string[], query: ArchiveQuery): string[] {
  if (query.ids === undefined) return ids;
  const wanted = new Set(query.ids);
  return ids.filter((id) => wanted.has(id));
}

export function pageBounds(ids: readonly string[], query: ArchiveQuery): PageBounds {
  const position = (id: string): number => {
    const i = ids.indexOf(id);
    if (i === -1) throw new ArchiveItemNotFoundError(id);
    return i;
  };
  const lo = query.afterId === undefined ? 0 : position(query.afterId) + 1;
  const hi = query.beforeId === undefined ? ids.length : Math.max(lo, position(query.beforeId));
  const max = Math.max(0, query.max);
  if (query.fromEnd === true) {
    const from = Math.max(lo, hi - max);
    return { from, to: hi, complete: from === lo };
  }
  const to = Math.min(hi, lo + max);
  return { from: lo, to, complete: to === hi };
}
