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
const SECRET_FIELDS = new Set(['metrics_token']);

/** Validates a merged raw object; errors name the field and never print secret values. */
export function validateConfig(raw: Raw): Config {
  const result = v.safeParse(configSchema, raw);
  if (result.success) return result.output;
  const lines = result.issues.map((issue) => {
    const path = (issue.path ?? []).map((item) => String(item.key));
    const field = path.join('.') || '(top level)';
    if (issue.type === 'strict_object') return `unknown field ${field}`;
    // valibot's messages quote the value received; a secret's value is never printed
    const message = SECRET_FIELDS.has(path[0]) ? issue.message.replace(/received .*$/, 'received ***') : issue.message;
    return `${field}: ${message}`;
  });
  throw new ConfigError(`invalid config:\n  ${lines.join('\n  ')}`);
}

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  flags?: Raw;
}

/** flags > env > file > defaults; `buckets` merges per key. */
export function loadConfig({ file, env = process.env, flags = {} }: LoadOptions): Config {
  const path = file ?? env.TOKENTAP_CONFIG;
  const fromFile = path ? configFromFile(path) : {};
  const fromEnv = configFromEnv(env);
  const merged: Raw = { ...fromFile, ...fromEnv, ...stripUndefined(flags) };
  return validateConfig(merged);
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
