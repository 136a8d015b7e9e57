import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  fileGraph,
  findCycles,
  packageViolations,
  parseImports,
  serviceViolations,
  type Unit,
} from './support/architecture.js';

// STYLE.md: services → packages; packages never import services; a package imports
// only the packages below it; no import cycles, between packages or between files.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Lower layers first; a package may import only packages of a strictly lower layer. */
const LAYERS: Record<string, number> = {
  xml: 0,
  jid: 0,
  testkit: 0,
  protocol: 1,
  bus: 2,
  store: 2,
  lease: 2,
  kit: 3,
  component: 4,
};

function units(kind: 'packages' | 'services'): Unit[] {
  const base = join(root, kind);
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .filter((n) => existsSync(join(base, n, 'package.json')))
    .map((name) => ({ kind, name, dir: join(base, name) }));
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      if (n === 'node_modules' || n === 'dist') continue;
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.tsx?$/.test(n)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** The text of every source file under the given units' directories. */
function load(list: readonly Unit[], subdirs?: readonly string[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const u of list) {
    const dirs =
      subdirs === undefined ? [u.dir] : subdirs.map((d) => join(u.dir, d)).filter((d) => existsSync(d));
    for (const dir of dirs) for (const file of sourceFiles(dir)) files.set(file, readFileSync(file, 'utf8'));
  }
  return files;
}

const all = [...units('packages'), ...units('services')];

describe('architecture', () => {
  it('knows the layer of every package', () => {
    for (const u of units('packages')) expect(LAYERS, `layer of packages/${u.name}`).toHaveProperty(u.name);
  });

  it('has no package importing a service or reaching outside itself, and packages import only lower layers', () => {
    const packages = units('packages');
    expect(packageViolations(root, packages, load(packages), LAYERS)).toEqual([]);
  });

  it('has no service importing another service', () => {
    const services = units('services');
    expect(serviceViolations(root, services, load(services, ['src']))).toEqual([]);
  });

  it('has no import cycle between files', () => {
    const cycles = findCycles(fileGraph(load(all, ['src'])));
    expect(cycles.map((cycle) => cycle.map((p) => relative(root, p)).join(' → '))).toEqual([]);
  });

  it('declares every workspace package it imports in package.json', () => {
    const missing: string[] = [];
    for (const u of all) {
      const pkg = JSON.parse(readFileSync(join(u.dir, 'package.json'), 'utf8')) as {
        dependencies?: Record<string, string>;
        devDependencies?: Record<string, string>;
      };
      const declared = new Set([
        ...Object.keys(pkg.dependencies ?? {}),
        ...Object.keys(pkg.devDependencies ?? {}),
      ]);
      for (const file of sourceFiles(join(u.dir, 'src'))) {
        for (const { spec } of parseImports(readFileSync(file, 'utf8'), file)) {
          if (spec.startsWith('@switchboard/') && !declared.has(spec)) {
            missing.push(`${relative(root, file)} imports undeclared ${spec}`);
          }
        }
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('architecture checks on an in-memory fixture (they can fail)', () => {
  const fx = '/fixture';
  const pkg = (name: string): Unit => ({ kind: 'packages', name, dir: `${fx}/packages/${name}` });
  const svc = (name: string): Unit => ({ kind: 'services', name, dir: `${fx}/services/${name}` });
  const layers = { low: 0, high: 1 };
  const files = new Map<string, string>([
    [`${fx}/packages/low/src/a.ts`, `import { b } from './b.js';\nexport const a = (): number => b + 1;\n`],
    [`${fx}/packages/low/src/b.ts`, `import { a } from './a.js';\nexport const b = 1;\nvoid a;\n`],
    [`${fx}/packages/low/src/c.ts`, `import type { A } from './d.js';\nexport type C = A;\n`],
    [`${fx}/packages/low/src/d.ts`, `import type { C } from './c.js';\nexport type A = C | 1;\n`],
    // Upward: a layer-0 package importing a layer-1 one, by name and by path.
    [
      `${fx}/packages/low/src/up.ts`,
      `export { h } from '@switchboard/high';\nexport * from '../../high/src/h.js';\n`,
    ],
    // require() and import() of paths outside the package; a commented-out import is not one.
    [
      `${fx}/packages/high/src/h.ts`,
      [
        `// import { x } from '../../low/src/a.js';`,
        `const r = require('../../../services/edge/src/app.js') as unknown;`,
        `export const h = async (): Promise<unknown> => [r, await import('../../low-extra/src/x.js')];`,
        `import { l } from '@switchboard/low';`,
        `void l;`,
      ].join('\n'),
    ],
    [`${fx}/services/one/src/main.ts`, `import '@switchboard/two';\nimport '../../two/src/app.js';\n`],
  ]);

  it('parses imports, re-exports, side-effect imports, import(), require() and type-only imports', () => {
    expect(
      parseImports(
        [
          `import a from 'a';`,
          `import type { B } from 'b';`,
          `import { type C } from 'c';`,
          `export { d } from 'd';`,
          `export type { E } from 'e';`,
          `import 'f';`,
          `const g = await import('g');`,
          `const h = require('h');`,
          `import i = require('i');`,
          `type J = import('j').J;`,
          `// import k from 'k';`,
          `const s = "import l from 'l'";`,
        ].join('\n'),
      ),
    ).toEqual([
      { spec: 'a', typeOnly: false, kind: 'import' },
      { spec: 'b', typeOnly: true, kind: 'import' },
      { spec: 'c', typeOnly: false, kind: 'import' },
      { spec: 'd', typeOnly: false, kind: 'export' },
      { spec: 'e', typeOnly: true, kind: 'export' },
      { spec: 'f', typeOnly: false, kind: 'import' },
      { spec: 'g', typeOnly: false, kind: 'dynamic' },
      { spec: 'h', typeOnly: false, kind: 'require' },
      { spec: 'i', typeOnly: false, kind: 'require' },
      { spec: 'j', typeOnly: true, kind: 'dynamic' },
    ]);
  });

  it('finds the run-time cycle and ignores the type-only one', () => {
    const cycles = findCycles(fileGraph(files));
    expect(cycles.map((cycle) => cycle.map((p) => relative(fx, p)))).toEqual([
      ['packages/low/src/a.ts', 'packages/low/src/b.ts', 'packages/low/src/a.ts'],
    ]);
  });

  it('flags upward imports, relative paths out of the package (import, require, import()) and services', () => {
    const violations = packageViolations(fx, [pkg('low'), pkg('high')], files, layers);
    expect(violations).toEqual([
      'packages/low/src/up.ts (layer 0) imports @switchboard/high (layer 1)',
      'packages/low/src/up.ts reaches outside packages/low: ../../high/src/h.js',
      'packages/high/src/h.ts reaches outside packages/high: ../../../services/edge/src/app.js',
      'packages/high/src/h.ts reaches outside packages/high: ../../low-extra/src/x.js',
    ]);
  });

  it('flags a service importing another service, by name or by path', () => {
    expect(serviceViolations(fx, [svc('one'), svc('two')], files)).toEqual([
      'services/one/src/main.ts imports @switchboard/two',
      'services/one/src/main.ts reaches outside its service: ../../two/src/app.js',
    ]);
  });
});
