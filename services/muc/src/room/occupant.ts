import type { Element } from '@switchboard/xml';
import type { Affiliation, Role } from '../storage/storage.js';

/**
 * One occupant: a nick in the room held by one user (XEP-0045 §7.2). Several
 * sessions of the same bare JID may share the nick (multi-session, as Prosody
 * and ejabberd allow): the room sends to each, and shows the latest one's JID.
 */
export interface Occupant {
  readonly nick: string;
  /** The session that joined or changed presence last; the real JID moderators see. */
  jid: string;
  readonly bare: string;
  role: Role;
  /** Each joined session's full JID → its last available presence payload (show, status, caps…), without MUC elements. */
  readonly sessions: Map<string, readonly Element[]>;
}

const AFFILIATION_RANK: Record<Affiliation, number> = { outcast: 0, none: 1, member: 2, admin: 3, owner: 4 };

/** Whether `a` ranks at least as high as `b` (owner > admin > member > none > outcast). */
export function atLeast(a: Affiliation, b: Affiliation): boolean {
  return AFFILIATION_RANK[a] >= AFFILIATION_RANK[b];
}

/** The default role for an affiliation (XEP-0045 §5.1.2 table). */
export function defaultRole(affiliation: Affiliation, moderated: boolean): Role {
  if (affiliation === 'owner' || affiliation === 'admin') return 'moderator';
  if (affiliation === 'outcast') return 'none';
  if (affiliation === 'member') return 'participant';
  return moderated ? 'visitor' : 'participant';
}
