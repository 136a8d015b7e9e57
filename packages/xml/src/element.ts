import { NS } from './namespaces.js';
import { serialize } from './serialize.js';

/** Attributes as written, including `xmlns` and `xmlns:prefix` declarations. */
export type Attrs = Record<string, string>;

export type Node = Element | string;

/**
 * An XML element: qualified name as written (`stream:features`, `body`),
 * attributes, and children (elements and text). Namespaces are resolved from
 * the `xmlns` declarations on the element and its ancestors, as in ltx and
 * @xmpp/xml.
 */
export class Element {
  name: string;
  attrs: Attrs;
  children: Node[];
  parent: Element | undefined;

  constructor(name: string, attrs: Attrs = {}, children: Node[] = []) {
    this.name = name;
    this.attrs = attrs;
    this.children = children;
    this.parent = undefined;
  }

  /** The local part of the name, without prefix. */
  getName(): string {
    const colon = this.name.indexOf(':');
    return colon === -1 ? this.name : this.name.slice(colon + 1);
  }

  /** The prefix of the name, '' when unprefixed. */
  getPrefix(): string {
    const colon = this.name.indexOf(':');
    return colon === -1 ? '' : this.name.slice(0, colon);
  }

  /** The namespace the element's name resolves to, '' when none is in scope. */
  getNS(): string {
    return this.resolvePrefix(this.getPrefix()) ?? '';
  }

  /** The namespace bound to `prefix` ('' for the default namespace) at this element. */
  resolvePrefix(prefix: string): string | undefined {
    const key = prefix === '' ? 'xmlns' : `xmlns:${prefix}`;
    const uri = this.attrs[key];
    if (uri !== undefined) return uri;
    if (this.parent !== undefined) return this.parent.resolvePrefix(prefix);
    return prefix === 'xml' ? NS.XML : undefined;
  }

  /** True when the local name is `name` and, if given, the namespace is `ns`. */
  is(name: string, ns?: string): boolean {
    return this.getName() === name && (ns === undefined || this.getNS() === ns);
  }

  attr(name: string): string | undefined {
    return this.attrs[name];
  }

  /** Sets an attribute, or removes it when `value` is undefined. */
  setAttr(name: string, value: string | undefined): this {
    if (value === undefined) delete this.attrs[name];
    else this.attrs[name] = value;
    return this;
  }

  /** The first child element with local name `name` (and namespace `ns` when given). */
  getChild(name: string, ns?: string): Element | undefined {
    for (const child of this.children) {
      if (typeof child !== 'string' && child.is(name, ns)) return child;
    }
    return undefined;
  }

  getChildren(name: string, ns?: string): Element[] {
    const found: Element[] = [];
    for (const child of this.children) {
      if (typeof child !== 'string' && child.is(name, ns)) found.push(child);
    }
    return found;
  }

  /** Every child element, in order, without text nodes. */
  getChildElements(): Element[] {
    const found: Element[] = [];
    for (const child of this.children) if (typeof child !== 'string') found.push(child);
    return found;
  }

  /** The concatenated text children (not the text of descendants). */
  getText(): string {
    let text = '';
    for (const child of this.children) if (typeof child === 'string') text += child;
    return text;
  }

  /** The text of the first matching child, undefined when there is no such child. */
  getChildText(name: string, ns?: string): string | undefined {
    return this.getChild(name, ns)?.getText();
  }

  /** Appends children; nested arrays are flattened and null, undefined and false skipped. */
  append(...children: XmlChild[]): this {
    appendChildren(this, children);
    return this;
  }

  /** Removes `child` (compared by identity); returns whether it was there. */
  removeChild(child: Node): boolean {
    const index = this.children.indexOf(child);
    if (index === -1) return false;
    this.children.splice(index, 1);
    if (typeof child !== 'string') child.parent = undefined;
    return true;
  }

  /** A deep copy, detached from any parent. */
  clone(): Element {
    const copy = new Element(this.name, { ...this.attrs });
    for (const child of this.children) {
      if (typeof child === 'string') copy.children.push(child);
      else {
        const c = child.clone();
        c.parent = copy;
        copy.children.push(c);
      }
    }
    return copy;
  }

  toString(): string {
    return serialize(this);
  }
}

export type XmlChild = Node | number | null | undefined | false | readonly XmlChild[];

export type XmlAttrs = Record<string, string | number | null | undefined>;

function appendChildren(parent: Element, children: readonly XmlChild[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (typeof child === 'string') {
      if (child !== '') parent.children.push(child);
    } else if (typeof child === 'number') {
      parent.children.push(String(child));
    } else if (child instanceof Element) {
      child.parent = parent;
      parent.children.push(child);
    } else {
      appendChildren(parent, child);
    }
  }
}

// XML 1.0 §2.3 Name restricted to a QName: one optional prefix, at most one colon (Namespaces in XML §4).
const NAME_START =
  'A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C-\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD\\u{10000}-\\u{EFFFF}';
const NAME_CHAR = `${NAME_START}\\-.0-9\\u00B7\\u0300-\\u036F\\u203F\\u2040`;
const NCNAME = `[${NAME_START}][${NAME_CHAR}]*`;
// Code point ranges straight from XML 1.0 §2.3, not user-perceived characters.
// eslint-disable-next-line no-misleading-character-class
const QNAME = new RegExp(`^(?:${NCNAME}:)?${NCNAME}$`, 'u');

/** Whether `name` is a valid qualified XML name (`body`, `stream:features`). */
export function isValidName(name: string): boolean {
  return QNAME.test(name);
}

/**
 * Builds an element, like @xmpp/xml's `xml()`:
 * `xml('message', { to, type: 'chat' }, xml('body', {}, text))`.
 * Null and undefined attribute values are left out; numbers become strings.
 * Throws TypeError on a name that is not a valid XML name, since serializing
 * it would produce markup that parses differently.
 */
export function xml(name: string, attrs?: XmlAttrs | null, ...children: XmlChild[]): Element {
  if (!isValidName(name)) throw new TypeError(`invalid XML element name: ${JSON.stringify(name)}`);
  const own: Attrs = {};
  if (attrs != null) {
    for (const key of Object.keys(attrs)) {
      const value = attrs[key];
      if (value === null || value === undefined) continue;
      if (!isValidName(key)) throw new TypeError(`invalid XML attribute name: ${JSON.stringify(key)}`);
      own[key] = typeof value === 'string' ? value : String(value);
    }
  }
  const el = new Element(name, own);
  appendChildren(el, children);
  return el;
}
