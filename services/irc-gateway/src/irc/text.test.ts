import { describe, expect, it } from 'vitest';
import {
  IRC_LINE_BYTES,
  PREFIX_ALLOWANCE,
  bodyLines,
  byteLength,
  ircToXmpp,
  meAction,
  messageLines,
  splitUtf8,
} from './text.js';

describe('splitting at IRC’s 512-byte lines', () => {
  it('never cuts a UTF-8 code point and gives the text back when joined', () => {
    const text = 'é😀中a'.repeat(300);
    for (const max of [4, 7, 50, 381]) {
      const pieces = splitUtf8(text, max);
      expect(pieces.join('')).toBe(text);
      for (const piece of pieces) {
        expect(byteLength(piece)).toBeLessThanOrEqual(max);
        // A cut surrogate pair would re-encode as U+FFFD.
        expect(piece).not.toMatch(/[\uD800-\uDBFF]$|^[\uDC00-\uDFFF]/);
      }
    }
  });

  it('prefers to cut before a space near the end of a piece', () => {
    const pieces = splitUtf8('aaaa bbbb cccc dddd', 12);
    expect(pieces).toEqual(['aaaa bbbb', ' cccc dddd']);
  });

  it('keeps every raw line, prefix allowance and CR LF included, within 512 bytes', () => {
    const body = 'x'.repeat(1500);
    const lines = messageLines('PRIVMSG', '#test', body);
    expect(lines.length).toBe(
      Math.ceil(1500 / (IRC_LINE_BYTES - 2 - PREFIX_ALLOWANCE - 'PRIVMSG #test :'.length)),
    );
    for (const line of lines) expect(byteLength(line) + 2 + PREFIX_ALLOWANCE).toBeLessThanOrEqual(512);
    expect(lines.map((l) => l.slice('PRIVMSG #test :'.length)).join('')).toBe(body);
  });

  it('turns CR and LF into separate lines, never into extra IRC commands', () => {
    const lines = messageLines('PRIVMSG', '#test', 'hello\r\nQUIT :bye\rJOIN #x\n\nend\0');
    expect(lines).toEqual([
      'PRIVMSG #test :hello',
      'PRIVMSG #test :QUIT :bye',
      'PRIVMSG #test :JOIN #x',
      'PRIVMSG #test :end',
    ]);
    for (const line of lines) expect(line).not.toMatch(/[\r\n\0]/);
    expect(bodyLines('\n\n')).toEqual([]);
    expect(() => messageLines('PRIVMSG', '#a b', 'x')).toThrow(RangeError);
  });

  it('wraps /me in CTCP ACTION on every piece', () => {
    const lines = messageLines('PRIVMSG', 'bob', 'y'.repeat(700), { action: true });
    expect(lines.length).toBe(2);
    for (const line of lines) {
      expect(line.startsWith('PRIVMSG bob :\x01ACTION y')).toBe(true);
      expect(line.endsWith('y\x01')).toBe(true);
    }
    expect(meAction('/me waves')).toBe('waves');
    expect(meAction('/mention')).toBeUndefined();
  });
});

describe('IRC formatting to XMPP', () => {
  it('strips mIRC bold, colours, hex colours, italics, underline, reverse and reset', () => {
    expect(
      ircToXmpp('\x02bold\x02 \x0304,12red\x03 \x0399x \x04FF0000hex\x04 \x1Dit\x1D \x1Fu\x1F \x16r\x16\x0F'),
    ).toBe('bold red x hex it u r');
  });

  it('drops the control characters XML 1.0 cannot carry and keeps tabs', () => {
    expect(ircToXmpp('a\x00b\x07c\td\x1be')).toBe('abc\tde');
  });
});
