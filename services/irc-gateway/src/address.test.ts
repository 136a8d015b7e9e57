import { parseJid } from '@switchboard/jid';
import { describe, expect, it } from 'vitest';
import { channelJid, escapeLocal, parseLocal, unescapeLocal, userJid } from './address.js';

describe('IRC addresses (biboumi style, XEP-0106 escaping)', () => {
  it('reads channels, users and servers from the localpart', () => {
    expect(parseLocal('#test%irc.example.net')).toEqual({
      kind: 'channel',
      server: 'irc.example.net',
      channel: '#test',
    });
    expect(parseLocal('alice%127.0.0.1')).toEqual({ kind: 'user', server: '127.0.0.1', nick: 'alice' });
    expect(parseLocal('irc.example.net')).toEqual({ kind: 'server', server: 'irc.example.net' });
    expect(parseLocal('')).toEqual({ kind: 'gateway' });
  });

  it('takes the server from after the last % since channel names may hold one', () => {
    expect(parseLocal('#100%%irc.example.net')).toMatchObject({
      channel: '#100%',
      server: 'irc.example.net',
    });
  });

  it('rejects names IRC cannot carry as jid-malformed', () => {
    expect(parseLocal('#bad,chan%irc.example.net')).toBe('jid-malformed');
    expect(parseLocal(escapeLocal('#with space%irc.example.net'))).toBe('jid-malformed');
    expect(parseLocal('#%irc.example.net')).toBe('jid-malformed');
    expect(parseLocal('#ok%not a host')).toBe('jid-malformed');
    expect(parseLocal('1nick%irc.example.net')).toBe('jid-malformed');
    expect(parseLocal('nochannel%')).toBe('jid-malformed');
  });

  it('escapes and unescapes the XEP-0106 characters, round trip', () => {
    expect(escapeLocal('a b@c/d:e')).toBe('a\\20b\\40c\\2fd\\3ae');
    expect(unescapeLocal('a\\20b\\40c\\2fd\\3ae')).toBe('a b@c/d:e');
    // XEP-0106 §4.2: a backslash is escaped only where it would start an escape sequence.
    expect(escapeLocal('\\5c')).toBe('\\5c5c');
    expect(escapeLocal('back\\slash')).toBe('back\\slash');
    for (const raw of ['nick\\20', 'x@y', "it's", '<tag>', 'a&b', 'q"uote']) {
      expect(unescapeLocal(escapeLocal(raw))).toBe(raw);
    }
  });

  it('builds JIDs that survive RFC 7622 preparation unchanged', () => {
    for (const jid of [
      channelJid('#Test', '127.0.0.1', 'irc.localhost'),
      userJid('Nick[m]', 'irc.example.net', 'irc.localhost'),
      userJid('a\\b', 'irc.example.net', 'irc.localhost'),
    ]) {
      expect(parseJid(jid).toString()).toBe(jid);
    }
    expect(channelJid('#Test', '127.0.0.1', 'irc.localhost')).toBe('#test%127.0.0.1@irc.localhost');
    expect(parseLocal(parseJid(userJid('a\\b', 's.net', 'irc.localhost')).local)).toMatchObject({
      nick: 'a\\b',
    });
  });
});
