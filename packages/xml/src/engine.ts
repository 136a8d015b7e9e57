import { DEFAULT_ENGINE, type XmlEngine, type XmlLimits } from './limits.js';
import { NativeTreeBuilder } from './native-builder.js';
import { SaxesTreeBuilder } from './saxes-builder.js';
import type { TreeBuilder, TreeSink } from './tree-builder.js';

export function createTreeBuilder(
  engine: XmlEngine | undefined,
  sink: TreeSink,
  limits: XmlLimits,
  mode: 'stream' | 'document',
  outerNamespace = '',
): TreeBuilder {
  return (engine ?? DEFAULT_ENGINE) === 'saxes'
    ? new SaxesTreeBuilder(sink, limits, mode, outerNamespace)
    : new NativeTreeBuilder(sink, limits, mode, outerNamespace);
}
