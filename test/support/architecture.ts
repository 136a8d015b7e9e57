import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** One import-like reference in a source file. */
export interface ImportRef {
  readonly spec: string;
  /** Erased at compile time (`import type`, `export type … from`, `import('x').T`): no run-time edge. */
  readonly typeOnly: boolean;
  readonly kind: 'import' | 'export' | 'dynamic' | 'require';
}

/**
 * Every module reference in a TypeScript source: static imports and re-exports, side-effect
 * imports, `import()` calls, `require()` calls (plain or from `createRequire`) and
 * `import x = require()`. Parsed with the TypeScript compiler, so comments and strings that
 * merely look like imports are not counted.
 */
export function parseImports(text: string, fileName = 'file.ts'): ImportRef[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: ImportRef[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({
        spec: node.moduleSpecifier.text,
        typeOnly: node.importClause?.isTypeOnly === true,
        kind: 'import',
      });
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push({ spec: node.moduleSpecifier.text, typeOnly: node.isTypeOnly, kind: 'export' });
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      found.push({ spec: node.moduleReference.expression.text, typeOnly: node.isTypeOnly, kind: 'require' });
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal)) {
        found.push({ spec: arg.literal.text, typeOnly: true, kind: 'dynamic' });
      }
    } else if (ts.isCallExpression(node) && node.arguments.length >= 1) {
      const [first] = node.arguments;
      if (first !== undefined && ts.isStringLiteralLike(first)) {
        if (node.expression.kind === ts.SyntaxKind.ImportKeyword) {
          found.push({ spec: first.text, typeOnly: false, kind: 'dynamic' });
        } else if (ts.isIdentifier(node.expression) && node.expression.text === 'require') {
          found.push({ spec: first.text, typeOnly: false, kind: 'require' });
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The source file a relative specifier names (`./x.js` → `./x.ts`, a directory → its index.ts), if present. */
export function resolveRelative(
  from: string,
  spec: string,
  exists: (path: string) => boolean,
): string | undefined {
  const target = resolve(dirname(from), spec);
  const base = target.replace(/\.(?:[cm]?js|[cm]?ts)$/, '');
  const candidates = [
    target,
    `${base}.ts`,
    `${base}.mts`,
    `${base}.cts`,
    `${base}.tsx`,
    join(base, 'index.ts'),
  ];
  return candidates.find((candidate) => /\.[cm]?tsx?$/.test(candidate) && exists(candidate));
}

/** Whether `path` is `dir` or inside it (not merely a sibling sharing its prefix, like `bus-extra`). */
export function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/** The run-time import graph between the given files (type-only imports are left out). */
export function fileGraph(files: ReadonlyMap<string, string>): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const [file, text] of files) {
    const deps: string[] = [];
    for (const ref of parseImports(text, file)) {
      if (ref.typeOnly || !ref.spec.startsWith('.')) continue;
      const target = resolveRelative(file, ref.spec, (p) => files.has(p));
      if (target !== undefined) deps.push(target);
    }
    graph.set(file, deps);
  }
  return graph;
}

/** Every cycle a depth-first walk meets, each as the path from its first file back to that file. */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'visiting') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

export interface Unit {
  readonly kind: 'packages' | 'services';
  readonly name: string;
  readonly dir: string;
}

const isTestFile = (file: string): boolean =>
  /\.(test|contract)\.ts$/.test(file) || file.split(sep).includes('test');

/**
 * What packages may import: never a service (by name or by path), only packages of a strictly
 * lower layer (testkit also from tests), and no relative path that leaves the package's own
 * directory. `files` maps each package's source files to their text.
 */
export function packageViolations(
  root: string,
  packages: readonly Unit[],
  files: ReadonlyMap<string, string>,
  layers: Readonly<Record<string, number>>,
): string[] {
  const violations: string[] = [];
  for (const [file, text] of files) {
    const unit = packages.find((u) => isInside(file, u.dir));
    if (unit === undefined) continue;
    const where = relative(root, file);
    for (const { spec } of parseImports(text, file)) {
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (!isInside(target, unit.dir)) {
          violations.push(`${where} reaches outside packages/${unit.name}: ${spec}`);
          continue;
        }
      }
      if (spec.includes('/services/') || (spec.startsWith('@switchboard/') && !(spec.slice(13) in layers))) {
        violations.push(`${where} imports service ${spec}`);
        continue;
      }
      if (!spec.startsWith('@switchboard/')) continue;
      const target = spec.slice('@switchboard/'.length);
      if (target === 'testkit' && isTestFile(file)) continue;
      if ((layers[target] ?? 99) >= (layers[unit.name] ?? -1)) {
        violations.push(`${where} (layer ${layers[unit.name]}) imports ${spec} (layer ${layers[target]})`);
      }
    }
  }
  return violations;
}

/** Services import no other service (except the standalone composition root) and stay inside their directory. */
export function serviceViolations(
  root: string,
  services: readonly Unit[],
  files: ReadonlyMap<string, string>,
): string[] {
  const names = new Set(services.map((u) => u.name));
  const violations: string[] = [];
  for (const [file, text] of files) {
    const unit = services.find((u) => isInside(file, u.dir));
    if (unit === undefined) continue;
    for (const ref of parseImports(text, file)) {
      if (ref.typeOnly) continue;
      const target = ref.spec.startsWith('@switchboard/') ? ref.spec.slice(13) : null;
      if (target && names.has(target) && target !== unit.name && unit.name !== 'standalone') {
        violations.push(`${relative(root, file)} imports ${ref.spec}`);
      }
      if (ref.spec.startsWith('.') && !isInside(resolve(dirname(file), ref.spec), unit.dir)) {
        violations.push(`${relative(root, file)} reaches outside its service: ${ref.spec}`);
      }
    }
  }
  return violations;
}
