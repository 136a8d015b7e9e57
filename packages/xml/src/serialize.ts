import type { Element } from './element.js';
import { escapeText, escapeXml } from './escape.js';

function openTag(el: Element): string {
  let out = `<${el.name}`;
  const attrs = el.attrs;
  for (const key in attrs) {
    const value = attrs[key];
    if (value !== undefined) out += ` ${key}="${escapeXml(value)}"`;
  }
  return out;
}

/**
 * Serializes an element and its subtree. Attribute values and text are
 * escaped so the output parses back to the same tree; names are written as
 * they are (the builder `xml()` and the parser only make valid ones).
 */
export function serialize(el: Element): string {
  const children = el.children;
  if (children.length === 0) return `${openTag(el)}/>`;
  let out = `${openTag(el)}>`;
  for (const child of children) {
    out += typeof child === 'string' ? escapeText(child) : serialize(child);
  }
  return `${out}</${el.name}>`;
}

/**
 * Only the start tag, left open: the stream header
 * (`<stream:stream xmlns='jabber:client' …>`, RFC 6120 §4.2) is sent this way.
 */
export function startTag(el: Element): string {
  return `${openTag(el)}>`;
}
