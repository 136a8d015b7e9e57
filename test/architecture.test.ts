import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

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

interface Unit {
  kind: 'packages' | 'services';
  name: string;
  dir: string;
}

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

const IMPORT_RE =
  /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Runtime imports only: `import type` is erased and cannot form a cycle at run time. */
function importsOf(file: string, { includeTypeOnly = false } = {}): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    if (!includeTypeOnly && /^\s*(?:import|export)\s+type\s/.test(m[0])) continue;
    found.push((m[1] ?? m[2] ?? m[3])!);
  }
  return found;
}

const all = [...units('packages'), ...units('services')];
const isTestFile = (f: string): boolean => /\.(test|contract)\.ts$/.test(f) || f.includes('/test/');

describe('architecture', () => {
  it('knows the layer of every package', () => {
    for (const u of units('packages')) expect(LAYERS, `layer of packages/${u.name}`).toHaveProperty(u.name);
  });

  it('has no package importing a service, and packages import only lower layers', () => {
    const violations: string[] = [];
    for (const u of units('packages')) {
      for (const file of sourceFiles(join(u.dir, 'src'))) {
        for (const spec of importsOf(file, { includeTypeOnly: true })) {
          const where = relative(root, file);
          if (
            spec.includes('/services/') ||
            (spec.startsWith('@switchboard/') && !(spec.slice(13) in LAYERS))
          ) {
            violations.push(`${where} imports service ${spec}`);
            continue;
          }
          if (!spec.startsWith('@switchboard/')) continue;
          const target = spec.slice('@switchboard/'.length);
          if (target === 'testkit' && isTestFile(file)) continue;
          if ((LAYERS[target] ?? 99) >= (LAYERS[u.name] ?? -1)) {
            violations.push(`${where} (layer ${LAYERS[u.name]}) imports ${spec} (layer ${LAYERS[target]})`);
          }
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('has no service importing another service', () => {
    const serviceNames = new Set(units('services').map((u) => u.name));
    const violations: string[] = [];
    for (const u of units('services')) {
      for (const file of sourceFiles(join(u.dir, 'src'))) {
        for (const spec of importsOf(file)) {
          const target = spec.startsWith('@switchboard/') ? spec.slice(13) : null;
          // The standalone composition root is the one place that runs every service.
          if (target && serviceNames.has(target) && target !== u.name && u.name !== 'standalone') {
            violations.push(`${relative(root, file)} imports ${spec}`);
          }
          if (spec.startsWith('.') && !resolve(dirname(file), spec).startsWith(u.dir)) {
            violations.push(`${relative(root, file)} reaches outside its service: ${spec}`);
          }
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('has no import cycle between files', () => {
    const graph = new Map<string, string[]>();
    for (const u of all) {
      for (const file of sourceFiles(join(u.dir, 'src'))) {
        const deps: string[] = [];
        for (const spec of importsOf(file)) {
          if (!spec.startsWith('.')) continue;
          const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
          if (existsSync(target)) deps.push(target);
          else if (existsSync(join(target.replace(/\.ts$/, ''), 'index.ts')))
            deps.push(join(target.replace(/\.ts$/, ''), 'index.ts'));
        }
        graph.set(file, deps);
      }
    }
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string): void => {
      state.set(f, 'visiting');
      stack.push(f);
      for (const d of graph.get(f) ?? []) {
        if (state.get(d) === 'visiting') {
          cycles.push([...stack.slice(stack.indexOf(d)), d].map((p) => relative(root, p)).join(' → '));
        } else if (!state.has(d)) visit(d);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of graph.keys()) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
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
        for (const spec of importsOf(file, { includeTypeOnly: true })) {
          if (spec.startsWith('@switchboard/') && !declared.has(spec)) {
            missing.push(`${relative(root, file)} imports undeclared ${spec}`);
          }
        }
      }
    }
    expect(missing).toEqual([]);
  });
});
