export { Element, isValidName, xml, type Attrs, type Node, type XmlAttrs, type XmlChild } from './element.js';
export { escapeText, escapeXml } from './escape.js';
export {
  StreamError,
  streamErrorElement,
  type StreamErrorCondition,
  type StreamErrorOptions,
} from './errors.js';
export {
  DEFAULT_ENGINE,
  DEFAULT_LIMITS,
  type XmlEngine,
  type XmlLimits,
  type XmlParserOptions,
} from './limits.js';
export { NS } from './namespaces.js';
export { parseElement, type ParseElementOptions } from './parse-element.js';
export { serialize, startTag } from './serialize.js';
export { StreamParser, type StreamParserHandlers } from './stream-parser.js';
