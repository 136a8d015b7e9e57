/**
 * The commands an SMS user texts to take part in group chats, in the style of
 * Cheogram's: a text whose first character is '/' is a command, anything else
 * is a message. Parsing is pure; what a command means is the bridge's business.
 */
export type RoomCommand =
  /** `/join [room[@service]] [nick]`: no room means "the room I was last invited to". */
  | { readonly kind: 'join'; readonly room?: string; readonly nick?: string }
  | { readonly kind: 'leave'; readonly room?: string }
  | { readonly kind: 'nick'; readonly nick: string }
  /** `/msg nick text`: `rest` is "nick text"; nicks may hold spaces, so the bridge matches it against the occupants. */
  | { readonly kind: 'msg'; readonly rest: string }
  | { readonly kind: 'who'; readonly room?: string }
  /** `/room [room]`: switch which room plain texts go to, or show it. */
  | { readonly kind: 'room'; readonly room?: string }
  | { readonly kind: 'help' }
  /** A known command without the arguments it needs. */
  | { readonly kind: 'usage'; readonly command: string }
  | { readonly kind: 'unknown'; readonly name: string };

const ALIASES: ReadonlyMap<string, RoomCommand['kind']> = new Map<string, RoomCommand['kind']>([
  ['join', 'join'],
  ['j', 'join'],
  ['leave', 'leave'],
  ['part', 'leave'],
  ['nick', 'nick'],
  ['msg', 'msg'],
  ['m', 'msg'],
  ['who', 'who'],
  ['names', 'who'],
  ['room', 'room'],
  ['help', 'help'],
  ['?', 'help'],
]);

/** The usage line of each command, for /help and for a command missing its arguments. */
export const USAGE: { readonly [K in Exclude<RoomCommand['kind'], 'usage' | 'unknown'>]: string } = {
  join: '/join room@service nick',
  leave: '/leave [room]',
  nick: '/nick newnick',
  msg: '/msg nick text',
  who: '/who [room]',
  room: '/room [room]',
  help: '/help',
};

/** The command a text is, or null when it is an ordinary message. */
export function parseCommand(text: string): RoomCommand | null {
  const trimmed = text.trim();
  // "//text" escapes a message that starts with a slash; a lone "/" or "/ x" is text too.
  if (!trimmed.startsWith('/') || trimmed.startsWith('//') || /^\/(\s|$)/.test(trimmed)) return null;
  const space = trimmed.search(/\s/);
  const name = (space === -1 ? trimmed.slice(1) : trimmed.slice(1, space)).toLowerCase();
  const rest = space === -1 ? '' : trimmed.slice(space).trim();
  const kind = ALIASES.get(name);
  if (kind === undefined) return { kind: 'unknown', name };
  const [first, ...others] = rest === '' ? [] : rest.split(/\s+/);
  const afterFirst = first === undefined ? '' : rest.slice(first.length).trim();
  switch (kind) {
    case 'join':
      return {
        kind,
        ...(first === undefined ? {} : { room: first }),
        ...(afterFirst === '' ? {} : { nick: afterFirst }),
      };
    case 'leave':
    case 'who':
    case 'room':
      return { kind, ...(first === undefined ? {} : { room: first }) };
    case 'nick':
      return rest === '' ? { kind: 'usage', command: kind } : { kind, nick: rest };
    case 'msg':
      return others.length === 0 ? { kind: 'usage', command: kind } : { kind, rest };
    default:
      return { kind: 'help' };
  }
}

/** The text of a message that was escaped with a leading "//". */
export function unescapeText(text: string): string {
  return text.trimStart().startsWith('//') ? text.trimStart().slice(1) : text;
}
