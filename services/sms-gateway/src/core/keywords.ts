/**
 * SMS opt-out keywords (CTIA Messaging Principles and Best Practices §5.1.1;
 * the keyword set carriers and Twilio honour). A keyword is the whole message, any case.
 */
export type Keyword = 'stop' | 'start' | 'help';

const KEYWORDS: ReadonlyMap<string, Keyword> = new Map<string, Keyword>([
  ['STOP', 'stop'],
  ['STOPALL', 'stop'],
  ['UNSUBSCRIBE', 'stop'],
  ['CANCEL', 'stop'],
  ['END', 'stop'],
  ['QUIT', 'stop'],
  ['START', 'start'],
  ['YES', 'start'],
  ['UNSTOP', 'start'],
  ['HELP', 'help'],
  ['INFO', 'help'],
]);

export function keywordOf(text: string): Keyword | null {
  return KEYWORDS.get(text.trim().toUpperCase()) ?? null;
}

export interface KeywordReplies {
  readonly stop: string;
  readonly start: string;
  readonly help: string;
}

export const DEFAULT_KEYWORD_REPLIES: KeywordReplies = {
  stop: 'You are unsubscribed and will receive no more messages from this number. Reply START to resubscribe.',
  start: 'You are resubscribed and can receive messages from this number again. Reply STOP to unsubscribe.',
  help: 'This number belongs to an XMPP user reached through an SMS gateway. Reply STOP to unsubscribe.',
};
