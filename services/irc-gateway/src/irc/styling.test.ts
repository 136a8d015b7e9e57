import { describe, expect, it } from 'vitest';
import { ircToStyled, styledLineToIrc, styledToIrc } from './styling.js';

describe('mIRC formatting to XEP-0393 styling', () => {
  it('maps bold, italic, strikethrough and monospace to *strong*, _emphasis_, ~strike~ and `pre`', () => {
    expect(ircToStyled('a \x02bold\x02 b \x1ditalic\x1d c \x1estruck\x1e d \x11code\x11')).toBe(
      'a *bold* b _italic_ c ~struck~ d `code`',
    );
  });

  it('closes spans at reset (0F) and at the end of the line, and nests them outermost first', () => {
    expect(ircToStyled('\x02\x1dboth\x0f plain \x02open')).toBe('*_both_* plain *open*');
    // §5.2: pre is innermost, nothing inside it is styled.
    expect(ircToStyled('\x11\x02x\x02\x11')).toBe('*`x`*');
    expect(ircToStyled('\x02bold \x1dboth\x1d\x02')).toBe('*bold _both_*');
  });

  it('strips colours, hex colours, reverse, underline and the controls XML cannot carry', () => {
    expect(ircToStyled('\x0304,12red\x03 \x0399x \x04FF0000hex\x04 \x1fu\x1f \x16r\x16 a\x00b\x07c\td')).toBe(
      'red x hex u r abc\td',
    );
  });

  it('moves whitespace out of a span and drops empty ones (§5.2)', () => {
    expect(ircToStyled('say\x02 loud \x02now')).toBe('say *loud* now');
    expect(ircToStyled('a\x02 \x02b \x02\x02c')).toBe('a b c');
  });

  it('strips a span XEP-0393 could not express instead of showing stray marks', () => {
    // Mid-word: "foo*bar*" is no span for an XMPP client.
    expect(ircToStyled('foo\x02bar\x02')).toBe('foobar');
    // Overlapping spans: the first is kept, the one crossing it is stripped.
    expect(ircToStyled('\x02a \x1db\x02 c\x1d')).toBe('*a b* c');
    // Its own directive inside would end it early.
    expect(ircToStyled('\x022*3\x02')).toBe('2*3');
    // Back to back: the second opening directive would follow a closing one.
    expect(ircToStyled('\x02a\x02\x1db\x1d')).toBe('*a*b');
  });
});

describe('XEP-0393 styling to mIRC formatting, only when unambiguous', () => {
  it('maps well-formed spans, nested ones included', () => {
    expect(styledLineToIrc('a *bold* _it_ ~gone~ `x*y`')).toBe(
      'a \x02bold\x02 \x1dit\x1d \x1egone\x1e \x11x*y\x11',
    );
    expect(styledLineToIrc('*_both_* end')).toBe('\x02\x1dboth\x1d\x02 end');
    expect(styledLineToIrc('no styling here')).toBe('no styling here');
  });

  it('leaves a line as plain text when a directive is not part of a span', () => {
    for (const line of [
      'snake_case_name',
      '2*3 = 6',
      '* bullet',
      '*open but never closed',
      '*a*_b_',
      'a *b * c',
      '> a quotation *x*',
      '```',
    ])
      expect(styledLineToIrc(line)).toBeNull();
  });

  it('decides line by line and keeps the line breaks for the splitter', () => {
    expect(styledToIrc('*hi*\nsnake_case *x*\r\n_yes_')).toBe('\x02hi\x02\nsnake_case *x*\r\n\x1dyes\x1d');
  });
});
