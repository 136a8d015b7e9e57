import { describe, expect, it } from 'vitest';
import {
  MAX_FILENAME_BYTES,
  contentDisposition,
  normalizeContentType,
  sanitizeFilename,
} from './filename.js';

describe('sanitizeFilename', () => {
  it('keeps ordinary names, including non-ASCII ones (XEP-0363 §4 example)', () => {
    expect(sanitizeFilename('très cool.jpg')).toBe('très cool.jpg');
    expect(sanitizeFilename('report 2024.pdf')).toBe('report 2024.pdf');
  });

  it('keeps only the last path segment', () => {
    expect(sanitizeFilename('../../etc/passwd')).toBe('passwd');
    expect(sanitizeFilename('C:\\Users\\juliet\\secret.txt')).toBe('secret.txt');
    expect(sanitizeFilename('/absolute/path/file.bin')).toBe('file.bin');
  });

  it('refuses names with nothing usable left', () => {
    for (const name of ['', '   ', '..', '.', '/', 'dir/', '\u0000\u0001', '\u202e'])
      expect(sanitizeFilename(name)).toBeNull();
  });

  it('strips control characters and bidi overrides that disguise an extension', () => {
    expect(sanitizeFilename('invoice\u202egpj.exe')).toBe('invoicegpj.exe');
    expect(sanitizeFilename('a\u0000b\nc.txt')).toBe('abc.txt');
  });

  it('replaces URL- and shell-significant characters and hides no dot-files', () => {
    expect(sanitizeFilename('a?b#c%d;e.txt')).toBe('a_b_c_d_e.txt');
    expect(sanitizeFilename('.htaccess')).toBe('htaccess');
    expect(sanitizeFilename('name. . .')).toBe('name');
  });

  it('normalizes to NFC', () => {
    expect(sanitizeFilename('e\u0301.txt')).toBe('\u00e9.txt');
  });

  it('truncates long names on a character boundary, keeping the extension', () => {
    const long = `${'ü'.repeat(300)}.jpeg`;
    const name = sanitizeFilename(long)!;
    expect(Buffer.byteLength(name, 'utf8')).toBeLessThanOrEqual(MAX_FILENAME_BYTES);
    expect(name.endsWith('.jpeg')).toBe(true);
    expect(name).not.toContain('\ufffd');
  });
});

describe('normalizeContentType', () => {
  it('accepts media types with parameters and lower-cases the type', () => {
    expect(normalizeContentType('image/JPEG')).toBe('image/jpeg');
    expect(normalizeContentType('text/plain;charset=UTF-8')).toBe('text/plain; charset=UTF-8');
  });

  it('refuses what is not a media type (header injection included)', () => {
    for (const bad of ['jpeg', 'image/', '/jpeg', 'text/html\r\nX-Evil: 1', 'a b/c'])
      expect(normalizeContentType(bad)).toBeNull();
  });
});

describe('contentDisposition', () => {
  it('shows images, audio and video inline, downloads everything else', () => {
    expect(contentDisposition('image/png', 'a.png')).toMatch(/^inline;/);
    expect(contentDisposition('audio/ogg', 'a.ogg')).toMatch(/^inline;/);
    expect(contentDisposition('video/mp4', 'a.mp4')).toMatch(/^inline;/);
    expect(contentDisposition('text/html', 'a.html')).toMatch(/^attachment;/);
    expect(contentDisposition('image/svg+xml', 'a.svg')).toMatch(/^attachment;/);
  });

  it('quotes non-ASCII names per RFC 8187 with an ASCII fallback', () => {
    expect(contentDisposition('application/pdf', 'très "cool".pdf')).toBe(
      `attachment; filename="tr_s _cool_.pdf"; filename*=UTF-8''tr%C3%A8s%20%22cool%22.pdf`,
    );
  });
});
