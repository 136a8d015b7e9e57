/**
 * The rooms SMS users are in, kept so the gateway rejoins them after a
 * restart or a reconnect. One membership per phone and room (the phone's
 * occupant JID is the same in every room).
 */
export interface RoomMembership {
  /** The phone, E.164 with '+'. */
  readonly phone: string;
  /** The room's bare JID. */
  readonly room: string;
  readonly nick: string;
  /** The gateway number the phone texts for this room; room traffic reaches the phone from it. */
  readonly via: string;
  /** The room password (XEP-0045 §7.2.6), when one was needed. */
  readonly password?: string;
  /** When the phone joined or last switched to this room (ms); the latest is where plain texts go. */
  readonly selectedAt: number;
}

export interface RoomMemberships {
  /** Creates or replaces the phone's membership of `membership.room`. */
  put(membership: RoomMembership): Promise<void>;
  get(phone: string, room: string): Promise<RoomMembership | null>;
  /** The phone's memberships, most recently selected first. */
  byPhone(phone: string): Promise<RoomMembership[]>;
  /** Every membership (for rejoining after a restart). */
  all(): Promise<RoomMembership[]>;
  /** False when there was none. */
  remove(phone: string, room: string): Promise<boolean>;
  /** Records that `phone` and the gateway number `via` just exchanged an SMS. */
  noteConversation(phone: string, via: string): Promise<void>;
  /** The gateway number `phone` last exchanged an SMS with; null when none. */
  lastNumber(phone: string): Promise<string | null>;
  close(): Promise<void>;
}

export function newestFirst(a: RoomMembership, b: RoomMembership): number {
  return b.selectedAt - a.selectedAt || a.room.localeCompare(b.room);
}
