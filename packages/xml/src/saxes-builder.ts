import { SaxesParser } from 'saxes';
import type { StreamErrorCondition } from './errors.js';
import type { XmlLimits } from './limits.js';
import { fail, TreeBuilder, type TreeSink } from './tree-builder.js';

const SAX_OPTIONS = {
  xmlns: false,
  position: false,
  defaultXMLVersion: '1.0',
  forceXMLVersion: true,
} as const;

// Keys of saxes error messages whose construct RFC 6120 §11.1 forbids outright.
const RESTRICTED_MESSAGES = ['undefined entity', 'doctype', 'processing instruction', 'comment'];

function saxesCondition(message: string): StreamErrorCondition {
  const lower = message.toLowerCase();
  for (const key of RESTRICTED_MESSAGES) if (lower.includes(key)) return 'restricted-xml';
  return 'not-well-formed';
}

/**
 * The tree builder on saxes (without its namespace mode: resolving prefixes
 * in TreeBuilder is cheaper and lets a stanza be made self-contained). Kept
 * as the reference engine the hand-written one is tested against.
 */
export class SaxesTreeBuilder extends TreeBuilder {
  private readonly sax = new SaxesParser(SAX_OPTIONS);

  constructor(sink: TreeSink, limits: XmlLimits, mode: 'stream' | 'document', outerNamespace = '') {
    super(sink, limits, mode, outerNamespace);
    const sax = this.sax;
    sax.on('error', (err) => fail(saxesCondition(err.message), err.message));
    sax.on('xmldecl', (decl) => this.onXmlDecl(decl.encoding));
    sax.on('doctype', () => fail('restricted-xml', 'DTDs are not allowed (RFC 6120 §11.1)'));
    sax.on('comment', () => fail('restricted-xml', 'comments are not allowed (RFC 6120 §11.1)'));
    sax.on('processinginstruction', () =>
      fail('restricted-xml', 'processing instructions are not allowed (RFC 6120 §11.1)'),
    );
    sax.on('opentagstart', (tag) => this.onOpenTagStart(tag.name));
    sax.on('opentag', (tag) => this.onOpenTag(tag.name, tag.attributes));
    sax.on('closetag', () => this.onCloseTag());
    sax.on('text', (text) => this.onText(text, false));
    sax.on('cdata', (text) => this.onText(text, true));
    // Saxes reports a close tag to the handler before it checks that the name
    // matches, which would emit a stanza closed by the wrong tag. Check first.
    // (Reaches into saxes 6 internals: `name` holds the close tag's name here.)
    const internals = sax as unknown as { closeTag: () => void; name: string; tags: { name: string }[] };
    const closeTag = internals.closeTag;
    internals.closeTag = function checkedCloseTag(this: typeof internals): void {
      const open = this.tags[this.tags.length - 1];
      if (open !== undefined && this.name !== '' && open.name !== this.name) {
        fail('not-well-formed', `</${this.name}> closes <${open.name}>`);
      }
      closeTag.call(this);
    };
  }

  protected parse(text: string): void {
    this.sax.write(text);
  }

  /** Saxes resets itself on a clean close. */
  protected end(): void {
    this.sax.close();
  }

  protected offset(): number {
    return this.sax.position - this.chunkStartChars;
  }
}
