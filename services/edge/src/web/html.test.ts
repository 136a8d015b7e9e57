import { describe, expect, it } from 'vitest';
import { Html, html, htmlEscape, scriptJson } from './html.js';

describe('html', () => {
  it('escapes interpolated text but not nested templates', () => {
    const name = '<script>alert("x")</script>';
    const row = html`<td>${name}</td>`;
    expect(row).toBeInstanceOf(Html);
    // Prettier may lay the template out over lines: compare without the whitespace between tags.
    const table = html`<tr>
      ${row}${[html`<td>${'a&b'}</td>`]}
    </tr>`.markup
      .replace(/>\s+</g, '><')
      .trim();
    expect(table).toBe('<tr><td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</td><td>a&amp;b</td></tr>');
    expect(htmlEscape(`'`)).toBe('&#39;');
  });

  it('keeps JSON from closing the inline script it is written into', () => {
    const json = scriptJson({ domain: '</script><script>alert(1)</script>' });
    expect(json).not.toContain('</script>');
    expect(JSON.parse(json)).toEqual({ domain: '</script><script>alert(1)</script>' });
  });
});
