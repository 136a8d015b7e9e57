import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod/v4';

/** One problem found while loading config; `path` is dotted (`edge.tcpPort`, `hosts[0]`), '' for the whole file. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
  /** Where the offending value came from: `file.yaml:12`, `SWITCHBOARD_EDGE__TCP_PORT`, `--edge.tcp-port`. */
  readonly source?: string;
}

/** Config could not be loaded; carries every issue found, never just the first. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(
      `invalid configuration (${issues.length} ${issues.length === 1 ? 'error' : 'errors'}):\n${formatIssues(issues)}`,
    );
    this.issues = issues;
  }
}

export interface LoadConfigOptions {
  /** Config file (.yaml, .yml or .json). Falls back to `--config` in argv, then `${prefix}CONFIG` in env. */
  readonly file?: string;
  /** Environment to read overrides from; defaults to none (bootConfig passes process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Prefix of the environment variables that are config; default `SWITCHBOARD_`. */
  readonly prefix?: string;
  /** Command-line arguments (without node and script): `--config <file>` and `--edge.tcp-port=5222` overrides. */
  readonly argv?: readonly string[];
  /**
   * What to do with a prefixed variable that names no setting. 'error' (default) catches typos;
   * 'ignore' suits a shared env file given to several services with different schemas.
   */
  readonly unknownEnv?: 'error' | 'ignore';
}

export const DEFAULT_ENV_PREFIX = 'SWITCHBOARD_';

type Path = readonly PropertyKey[];
type Json = unknown;

/**
 * Loads config from a file, then environment variables, then argv (later wins), and validates the
 * merge against `schema`. Every object in the schema is treated as strict: a key the schema does not
 * know is an error, because in config it is nearly always a typo.
 *
 * @throws ConfigError with all issues found.
 */
export function loadConfig<S extends z.ZodType>(schema: S, options: LoadConfigOptions = {}): z.output<S> {
  const prefix = options.prefix ?? DEFAULT_ENV_PREFIX;
  const env = options.env ?? {};
  const issues: ConfigIssue[] = [];
  const sources = new Map<string, string>();

  const args = parseArgv(options.argv ?? [], issues);
  const fileName = options.file ?? args.config ?? nonEmpty(env[`${prefix}CONFIG`]);

  let root: Record<string, Json> = {};
  let fileFailed = false;
  let locate: (path: Path) => string | undefined = () => undefined;
  if (fileName !== undefined) {
    const loaded = readConfigFile(fileName);
    if ('issues' in loaded) {
      issues.push(...loaded.issues);
      fileFailed = true;
    } else {
      root = loaded.value;
      locate = loaded.locate;
    }
  }

  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(prefix) || raw === undefined || name === `${prefix}CONFIG`) continue;
    const segments = name.slice(prefix.length).split('__');
    const resolved = resolveOverride(schema, segments, raw, name, issues, options.unknownEnv ?? 'error');
    if (resolved) applyOverride(root, resolved, name, sources);
  }
  for (const { key, value } of args.overrides) {
    const source = `--${key}`;
    const resolved = resolveOverride(schema, key.split('.'), value, source, issues, 'error');
    if (resolved) applyOverride(root, resolved, source, sources);
  }

  // A file that failed to load would make the schema report every required key as missing; that noise
  // would bury the real error, so the schema is checked only once the inputs themselves are sound.
  if (!fileFailed) {
    findUnknownKeys(schema, root, [], issues, (path) => sourceOf(path, sources) ?? locate(path));
    const result = schema.safeParse(root);
    if (!result.success) {
      for (const issue of result.error.issues) {
        if (issue.code === 'unrecognized_keys') continue; // reported per key by findUnknownKeys
        const source = sourceOf(issue.path, sources) ?? locate(issue.path) ?? fileName;
        issues.push(withSource({ path: formatPath(issue.path), message: issue.message }, source));
      }
    }
    if (issues.length === 0 && result.success) return result.data;
  }
  throw new ConfigError(issues);
}

export interface BootConfigOptions extends LoadConfigOptions {
  /** Where the error report goes; default process.stderr. */
  readonly stderr?: { write(chunk: string): unknown };
  /** Called after the report; default process.exit. */
  readonly exit?: (code: number) => never;
}

/**
 * For `main.ts`: loads config from `process.env` and `process.argv`, or prints every issue to stderr in
 * one block and exits 1. Config is read here and only here (ARCHITECTURE.md, "Configuration").
 */
export function bootConfig<S extends z.ZodType>(schema: S, options: BootConfigOptions = {}): z.output<S> {
  try {
    return loadConfig(schema, { env: process.env, argv: process.argv.slice(2), ...options });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    (options.stderr ?? process.stderr).write(`${error.message}\n`);
    return (options.exit ?? ((code: number) => process.exit(code)))(1);
  }
}

export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues
    .map(
      (i) =>
        `  - ${i.path === '' ? '(config)' : i.path}: ${i.message}${i.source === undefined ? '' : ` [${i.source}]`}`,
    )
    .join('\n');
}

function withSource(issue: { path: string; message: string }, source: string | undefined): ConfigIssue {
  return source === undefined ? issue : { ...issue, source };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** The override that set `path` or one of its ancestors, if any. */
function sourceOf(path: readonly PropertyKey[], sources: ReadonlyMap<string, string>): string | undefined {
  for (let n = path.length; n > 0; n--) {
    const found = sources.get(formatPath(path.slice(0, n)));
    if (found !== undefined) return found;
  }
  return undefined;
}

// ---- file ----

type LoadedFile =
  { value: Record<string, Json>; locate: (path: Path) => string | undefined } | { issues: ConfigIssue[] };

function readConfigFile(name: string): LoadedFile {
  const file = resolve(name);
  const ext = extname(file).toLowerCase();
  if (ext !== '.json' && ext !== '.yaml' && ext !== '.yml') {
    return { issues: [{ path: '', message: `config file must end in .yaml, .yml or .json`, source: file }] };
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT' ? 'config file not found' : `cannot read config file (${code ?? String(error)})`;
    return { issues: [{ path: '', message, source: file }] };
  }

  let value: unknown;
  let locate: (path: Path) => string | undefined = () => file;
  if (ext === '.json') {
    try {
      value = JSON.parse(text);
    } catch (error) {
      return { issues: [{ path: '', message: `invalid JSON: ${(error as Error).message}`, source: file }] };
    }
  } else {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
    if (doc.errors.length > 0) {
      return {
        issues: doc.errors.map((e) => ({
          path: '',
          message: `invalid YAML: ${e.message.split('\n')[0] ?? e.code}`,
          source: `${file}:${lines.linePos(e.pos[0]).line}`,
        })),
      };
    }
    value = doc.toJS();
    locate = (path) => {
      // Point at the deepest node that exists, so a missing key points at its parent mapping.
      for (let n = path.length; n >= 0; n--) {
        const node: unknown = doc.getIn(path.slice(0, n), true);
        const range = (node as { range?: [number, number, number] } | undefined)?.range;
        if (range) return `${file}:${lines.linePos(range[0]).line}`;
      }
      return file;
    };
  }
  if (value === null || value === undefined) return { value: {}, locate };
  if (!isPlainObject(value)) {
    return { issues: [{ path: '', message: 'config file must hold a mapping of settings', source: file }] };
  }
  return { value, locate };
}

// ---- overrides from env and argv ----

interface Override {
  readonly path: readonly string[];
  readonly value: Json;
}

function parseArgv(
  argv: readonly string[],
  issues: ConfigIssue[],
): { config?: string; overrides: { key: string; value: string }[] } {
  const overrides: { key: string; value: string }[] = [];
  let config: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const match = /^--([^=]+)(?:=(.*))?$/s.exec(arg);
    if (!match) {
      issues.push({ path: '', message: `unexpected argument ${JSON.stringify(arg)}`, source: 'argv' });
      continue;
    }
    const key = match[1] ?? '';
    let value = match[2];
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) {
        issues.push({ path: '', message: `argument --${key} needs a value`, source: 'argv' });
        continue;
      }
      i++;
    }
    if (key === 'config') config = value;
    else overrides.push({ key, value });
  }
  return config === undefined ? { overrides } : { config, overrides };
}

/** Maps a variable's segments onto schema keys and coerces its text to the type the schema wants there. */
function resolveOverride(
  schema: z.ZodType,
  segments: readonly string[],
  raw: string,
  source: string,
  issues: ConfigIssue[],
  unknown: 'error' | 'ignore',
): Override | undefined {
  const path: string[] = [];
  let node = schema;
  for (const segment of segments) {
    const container = unwrap(node);
    if (container instanceof z.ZodObject) {
      const shape = container.shape as Record<string, z.ZodType>;
      const key = Object.keys(shape).find((k) => normalizeKey(k) === normalizeKey(segment));
      if (key === undefined || segment === '') {
        if (unknown === 'error') {
          const hint = suggest(segment, Object.keys(shape));
          issues.push({
            path: formatPath([...path, segment]),
            message: `no such setting${hint === undefined ? '' : ` (did you mean ${formatPath([...path, hint])}?)`}`,
            source,
          });
        }
        return undefined;
      }
      path.push(key);
      node = shape[key] as z.ZodType;
    } else if (container instanceof z.ZodRecord) {
      path.push(snakeToCamel(segment));
      node = container.valueType as z.ZodType;
    } else {
      issues.push({
        path: formatPath(path),
        message: `cannot set ${segment} inside a ${container.def.type}`,
        source,
      });
      return undefined;
    }
  }
  const coerced = coerce(node, raw.trim());
  if ('error' in coerced) {
    issues.push({ path: formatPath(path), message: coerced.error, source });
    return undefined;
  }
  return { path, value: coerced.value };
}

function coerce(schema: z.ZodType, text: string): { value: Json } | { error: string } {
  const target = unwrap(schema);
  const json = (): { value: Json } | { error: string } => {
    try {
      return { value: JSON.parse(text) as Json };
    } catch (error) {
      return { error: `invalid JSON: ${(error as Error).message}` };
    }
  };
  if (target instanceof z.ZodNumber) {
    // A non-number stays text so the schema reports it with its usual message.
    const n = Number(text);
    return { value: text !== '' && Number.isFinite(n) ? n : text };
  }
  if (target instanceof z.ZodBoolean) {
    const lower = text.toLowerCase();
    if (lower === 'true' || lower === '1') return { value: true };
    if (lower === 'false' || lower === '0') return { value: false };
    return { value: text };
  }
  if (target instanceof z.ZodArray) {
    if (text.startsWith('[')) return json();
    const items = text === '' ? [] : text.split(',').map((s) => s.trim());
    const element = target.element as z.ZodType;
    const values: Json[] = [];
    for (const item of items) {
      const one = coerce(element, item);
      if ('error' in one) return one;
      values.push(one.value);
    }
    return { value: values };
  }
  if (target instanceof z.ZodObject || target instanceof z.ZodRecord) {
    return text.startsWith('{') ? json() : { error: 'expects a JSON object ({...})' };
  }
  if (text.startsWith('[') || text.startsWith('{')) return json();
  return { value: text };
}

function applyOverride(
  root: Record<string, Json>,
  override: Override,
  source: string,
  sources: Map<string, string>,
): void {
  let node = root;
  const { path } = override;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (isPlainObject(next)) node = next;
    else {
      const created: Record<string, Json> = {};
      node[key] = created;
      node = created;
    }
  }
  const last = path[path.length - 1];
  if (last === undefined) return;
  node[last] = override.value;
  sources.set(formatPath(path), source);
}

// ---- schema walking ----

/** Looks through wrappers that do not change which keys are allowed. */
function unwrap(schema: z.ZodType): z.ZodType {
  let node = schema;
  for (;;) {
    if (
      node instanceof z.ZodOptional ||
      node instanceof z.ZodNullable ||
      node instanceof z.ZodDefault ||
      node instanceof z.ZodPrefault ||
      node instanceof z.ZodReadonly ||
      node instanceof z.ZodCatch
    ) {
      node = node.def.innerType as z.ZodType;
    } else if (node instanceof z.ZodPipe) {
      node = node.def.in as z.ZodType;
    } else {
      return node;
    }
  }
}

function findUnknownKeys(
  schema: z.ZodType,
  value: unknown,
  path: PropertyKey[],
  issues: ConfigIssue[],
  locate: (path: Path) => string | undefined,
): void {
  const node = unwrap(schema);
  if (node instanceof z.ZodObject && isPlainObject(value)) {
    const shape = node.shape as Record<string, z.ZodType>;
    const catchall = node.def.catchall;
    const closed = catchall === undefined || catchall instanceof z.ZodNever;
    for (const [key, child] of Object.entries(value)) {
      const childSchema = shape[key];
      if (childSchema !== undefined) findUnknownKeys(childSchema, child, [...path, key], issues, locate);
      else if (closed) {
        const hint = suggest(key, Object.keys(shape));
        issues.push(
          withSource(
            {
              path: formatPath([...path, key]),
              message: `unknown key${hint === undefined ? '' : ` (did you mean ${formatPath([...path, hint])}?)`}`,
            },
            locate([...path, key]),
          ),
        );
      }
    }
  } else if (node instanceof z.ZodRecord && isPlainObject(value)) {
    for (const [key, child] of Object.entries(value)) {
      findUnknownKeys(node.valueType as z.ZodType, child, [...path, key], issues, locate);
    }
  } else if (node instanceof z.ZodArray && Array.isArray(value)) {
    value.forEach((child, i) =>
      findUnknownKeys(node.element as z.ZodType, child, [...path, i], issues, locate),
    );
  }
}

function isPlainObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `TCP_PORT`, `tcp-port`, `tcp_port` and `tcpPort` all name the same key. */
function normalizeKey(key: string): string {
  return key.replace(/[-_]/g, '').toLowerCase();
}

function snakeToCamel(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * The known key a typo most likely meant: same letters ignoring case and separators, or a few edits
 * away (at most one per three letters, so short keys do not "match" everything).
 */
function suggest(key: string, known: readonly string[]): string | undefined {
  const wanted = normalizeKey(key);
  let best: string | undefined;
  let bestDistance = Math.min(2, Math.floor(wanted.length / 3)) + 1;
  for (const candidate of known) {
    const d = editDistance(wanted, normalizeKey(candidate));
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
