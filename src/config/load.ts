/** Builds the effective config: flags > env (TOKENTAP_*) > YAML file > defaults. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as v from 'valibot';
import type * as Yaml from 'yaml';
import { ENV_FIELDS, configSchema, type Config } from './schema.js';

/** The YAML parser, loaded only when there is a config file to read (it is not needed otherwise). */
const parseYaml = (text: string): unknown => (createRequire(import.meta.url)('yaml') as typeof Yaml).parse(text);

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Raw = Record<string, unknown>;

/** The TOKENTAP_* variables tokentap reads: one per ENV_FIELDS field, TOKENTAP_CONFIG, and TOKENTAP_LOG (an alias). */
export const KNOWN_ENV: readonly string[] = [...ENV_FIELDS.map((f) => `TOKENTAP_${f.toUpperCase()}`), 'TOKENTAP_CONFIG', 'TOKENTAP_LOG'];

/**
 * TOKENTAP_* names tokentap's own tooling sets for itself, which the proxy inherits and ignores: the
 * overhead benchmark's TOKENTAP_BENCH_NODE_FLAGS (src/bench/overhead/procs.ts) and any other TOKENTAP_BENCH_*.
 */
export const TOOLING_ENV_PREFIXES: readonly string[] = ['TOKENTAP_BENCH_'];

/** Levenshtein distance (names are short: the O(n·m) table is nothing). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The candidate nearest to `name` by edit distance (the first of equals, in the candidates' order). */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

/**
 * TOKENTAP_* variables set (non-empty) that tokentap does not read, each with the closest known name: a
 * misspelled TOKENTAP_UPSTRAEM is an error, not a setting silently left at its default.
 */
export function unknownEnvIssues(env: NodeJS.ProcessEnv): string[] {
  return Object.keys(env)
    .filter((name) => name.startsWith('TOKENTAP_') && env[name] !== undefined && env[name] !== '')
    .filter((name) => !KNOWN_ENV.includes(name) && !TOOLING_ENV_PREFIXES.some((p) => name.startsWith(p)))
    .sort()
    .map((name) => `unknown environment variable ${name} (did you mean ${closest(name, KNOWN_ENV)}?)`);
}

/** Reads TOKENTAP_<FIELD> variables (TOKENTAP_LOG is an alias of TOKENTAP_ACCESS_LOG). */
export function configFromEnv(env: NodeJS.ProcessEnv): Raw {
  const out: Raw = {};
  for (const field of ENV_FIELDS) {
    const value = env[`TOKENTAP_${field.toUpperCase()}`];
    if (value !== undefined && value !== '') out[field] = value;
  }
  if (out.access_log === undefined && env.TOKENTAP_LOG) out.access_log = env.TOKENTAP_LOG;
  return out;
}

export function configFromFile(path: string): Raw {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(e as Error).message}`);
  }
  if (doc == null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config file ${path} must be a YAML mapping`);
  return doc as Raw;
}

/** Never echo secrets: values of these fields are replaced in messages. */
const SECRET_FIELDS = new Set(['metrics_token', 'key_id_secret']);

type SchemaNode = { entries?: Record<string, unknown>; wrapped?: unknown; value?: unknown; pipe?: unknown[] };

/** The object (entries) or record (value) schema inside optional() and pipe() wrappers. */
function unwrap(schema: unknown): SchemaNode {
  let s = schema as SchemaNode;
  while (s.entries === undefined && s.value === undefined) {
    const inner = s.wrapped ?? s.pipe?.find((p) => (p as SchemaNode).entries !== undefined || (p as SchemaNode).value !== undefined);
    if (inner === undefined || inner === s) break;
    s = inner as SchemaNode;
  }
  return s;
}

/** The field names a (nested) config object accepts, for "did you mean" hints. */
function knownFields(parent: string[]): string[] {
  let schema: unknown = configSchema;
  for (const key of parent) {
    const s = unwrap(schema);
    schema = s.entries?.[key] ?? s.value; // a record's (prices) members all have its value schema
    if (schema === undefined) return [];
  }
  return Object.keys(unwrap(schema).entries ?? {});
}

/**
 * Validates a merged raw object; errors name the field and never print secret values. `extra`: issues found
 * outside the object (unknown environment variables), reported in the same message.
 */
export function validateConfig(raw: Raw, extra: string[] = []): Config {
  const result = v.safeParse(configSchema, raw);
  if (result.success && extra.length === 0) return result.output;
  const lines = (result.issues ?? []).map((issue) => {
    const path = (issue.path ?? []).map((item) => String(item.key));
    const field = path.join('.') || '(top level)';
    // a missing required member (e.g. prices.<model>.input) is reported by its object, expecting its name
    if (issue.type === 'strict_object' && issue.expected !== 'never' && issue.received === 'undefined') return `${field}: is required`;
    if (issue.type === 'strict_object' && issue.expected === 'never') {
      const hint = closest(path[path.length - 1] ?? '', knownFields(path.slice(0, -1)));
      return `unknown field ${field}${hint === undefined ? '' : ` (did you mean ${hint}?)`}`;
    }
    // valibot's messages quote the value received; a secret's value is never printed
    const message = SECRET_FIELDS.has(path[0]) ? issue.message.replace(/received .*$/, 'received ***') : issue.message;
    return `${field}: ${message}`;
  });
  throw new ConfigError(`invalid config:\n  ${[...extra, ...lines].join('\n  ')}`);
}

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  flags?: Raw;
  /** Defaults of this run, below the file (e.g. `--demo`'s shorter upstream timeouts); the schema's below them. */
  defaults?: Raw;
}

/** flags > env > file > `defaults` > the schema's defaults; `buckets` merges per key. Unknown TOKENTAP_* variables are errors. */
export function loadConfig({ file, env = process.env, flags = {}, defaults = {} }: LoadOptions): Config {
  const path = file ?? env.TOKENTAP_CONFIG;
  const fromFile = path ? configFromFile(path) : {};
  const fromEnv = configFromEnv(env);
  const merged: Raw = { ...defaults, ...fromFile, ...fromEnv, ...stripUndefined(flags) };
  return validateConfig(merged, unknownEnvIssues(env));
}

function stripUndefined(o: Raw): Raw {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** An upstream URL safe to print: credentials, query and fragment masked (an API key often rides in `?key=`). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = u.username ? '***' : '';
      u.password = u.password ? '***' : '';
    }
    const query = u.search ? '?***' : '';
    const fragment = u.hash ? '#***' : '';
    u.search = '';
    u.hash = '';
    const base = u.toString();
    return query || fragment ? base + query + fragment : base.replace(/\/$/, '');
  } catch {
    return '(invalid url)';
  }
}
