/** The config schema: every field, its default, and how it is validated. Pure. */
import * as v from 'valibot';
import { E2E_BUCKETS, TOKEN_BUCKETS, TPOT_BUCKETS, TTFT_BUCKETS } from './buckets.js';
import { parseBytes, parseDurationMs } from './units.js';
import { userSourceProblem } from '../usage/user-source.js';

// valibot, not zod: the same checks at about 1 MB of RSS instead of 13 MB per process (zod's core is loaded
// whole), which every proxy process and cluster worker carries for its lifetime.

/** A field written with a unit ("30s", "64MiB") or as a bare number, converted by `parse`. */
const withUnit = (parse: (v: number | string) => number, bare: v.GenericSchema<number>, def: string) =>
  v.pipe(
    v.optional(v.union([bare, v.string()]), def),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      try {
        return parse(dataset.value);
      } catch (e) {
        addIssue({ message: (e as Error).message });
        return NEVER;
      }
    }),
  );

const duration = (def: string) => withUnit(parseDurationMs, v.pipe(v.number(), v.minValue(0)), def);
const bytes = (def: string) => withUnit(parseBytes, v.pipe(v.number(), v.integer(), v.minValue(1)), def);

/** A whole number, also from its decimal string (environment variables and flags are strings). */
const int = (min: number, max: number) => {
  const message = max === Number.MAX_SAFE_INTEGER ? `must be a whole number >= ${min}` : `must be a whole number from ${min} to ${max}`;
  return v.pipe(
    v.union([v.number(), v.string()], message),
    v.transform(Number),
    v.number(message),
    v.integer(message),
    v.minValue(min, message),
    v.maxValue(max, message),
  );
};

const port = (def: number) => v.optional(int(0, 65535), def);

const bool = (def: boolean) =>
  v.pipe(
    v.optional(
      v.union([v.boolean(), v.picklist(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])], 'must be true or false (or 1/0, yes/no, on/off)'),
      def,
    ),
    v.transform((b) => (typeof b === 'boolean' ? b : ['true', '1', 'yes', 'on'].includes(b))),
  );

const stringList = v.pipe(
  v.optional(v.union([v.array(v.string()), v.string()]), () => []),
  v.transform((l) => (typeof l === 'string' ? l.split(',').map((s) => s.trim()).filter(Boolean) : l)),
);

const bucketList = (def: number[]) =>
  v.optional(
    v.pipe(
      v.array(v.pipe(v.number(), v.gtValue(0))),
      v.minLength(1),
      v.check((b) => b.every((x, i) => i === 0 || x > b[i - 1]), 'buckets must be strictly increasing'),
    ),
    () => [...def],
  );

const httpUrl = v.pipe(
  v.string(),
  v.check((s) => /^https?:\/\/[^/\s]+/i.test(s), 'must be an http:// or https:// URL, e.g. http://127.0.0.1:8000'),
);

const nonEmpty = v.pipe(v.string(), v.minLength(1));

/** `user_from`: each entry a source (src/usage/user-source.ts), each bad one named. */
const userSources = v.pipe(
  stringList,
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    for (const entry of dataset.value) {
      const problem = userSourceProblem(entry);
      if (problem !== null) addIssue({ message: problem });
    }
  }),
);

const PRICE_MESSAGE = 'must be a number from 0 to 1,000,000: the price of 1,000,000 tokens in `currency`';
// (bounded: with usage counts bounded too (MAX_USAGE_TOKENS), a request's cost and the cost counters stay finite)
const pricePerMillion = v.pipe(v.number(PRICE_MESSAGE), v.minValue(0, PRICE_MESSAGE), v.maxValue(1e6, PRICE_MESSAGE), v.finite(PRICE_MESSAGE));

/** `prices`: model name or glob → prices per 1,000,000 tokens (src/usage/prices.ts). File only. */
const PRICES_MESSAGE = 'must be a mapping of model names or globs to prices';
const priceTable = v.optional(
  v.pipe(
    // (a record alone would take a YAML list: arrays are objects)
    v.custom<Record<string, unknown>>((x) => typeof x === 'object' && x !== null && !Array.isArray(x), PRICES_MESSAGE),
    v.record(
      v.pipe(v.string(), v.minLength(1, 'a model name or glob must not be empty')),
      v.strictObject(
        { input: pricePerMillion, cached_input: v.optional(pricePerMillion), output: pricePerMillion, reasoning: v.optional(pricePerMillion) },
        'must be a mapping with input and output (and optionally cached_input, reasoning) per 1,000,000 tokens',
      ),
      PRICES_MESSAGE,
    ),
  ),
  () => ({}),
);

/** Where key_id_secret is set: the cross-field errors name both. */
const SECRET_HINT = 'set key_id_secret in the config file or TOKENTAP_KEY_ID_SECRET';

/** A number from 0 to 1, also from its decimal string. */
const ratio = v.pipe(
  v.union([v.number(), v.string()], 'must be a number from 0 to 1'),
  v.transform(Number),
  v.number('must be a number from 0 to 1'),
  v.minValue(0, 'must be a number from 0 to 1'),
  v.maxValue(1, 'must be a number from 0 to 1'),
);


export const configSchema = v.pipe(v.strictObject({
  /** Base URL of the OpenAI-compatible server (its root; a trailing /v1 is dropped). Required by the CLI unless --demo. */
  upstream: v.optional(httpUrl),
  host: v.optional(nonEmpty, '0.0.0.0'),
  port: port(8080),
  metrics_host: v.optional(nonEmpty, '0.0.0.0'),
  metrics_port: port(9464),
  /** Bearer token required on the metrics port's /metrics; unset = open. RFC 6750's token68, the only tokens an
   * `Authorization: Bearer` header can carry: with any other, every request is answered 400. (The message must
   * not quote the value.) */
  metrics_token: v.optional(
    v.pipe(v.string(), v.regex(/^[A-Za-z0-9\-._~+/]+=*$/, 'must be a token68: letters, digits and - . _ ~ + /, optionally ending in = padding')),
  ),
  body_limit: bytes('64MiB'),
  upstream_connect_timeout: duration('10s'),
  upstream_headers_timeout: duration('600s'),
  upstream_idle_timeout: duration('300s'),
  shutdown_grace: duration('30s'),
  /** Time a client has to send its whole request (headers and body); exceeded: 408, outcome rejected. */
  request_timeout: duration('300s'),
  /** A client that accepts no bytes for this long while the upstream has more is given up on: the upstream request is aborted (outcome client_aborted). */
  client_send_timeout: duration('300s'),
  inject_usage: bool(true),
  /**
   * The clients are trusted proxies: forward their X-Forwarded-Host/-Proto as sent. Off: tokentap sends its
   * own (the request's Host, http), so a client cannot pose as another host or as https to the upstream.
   */
  trust_forwarded_headers: bool(false),
  /** Proxy processes sharing the port (node:cluster); "auto" = one per CPU. */
  workers: v.optional(v.union([v.literal('auto'), int(1, 256)], 'must be "auto" or a whole number from 1 to 256'), 1),
  model_allowlist: stringList,
  max_models: v.optional(int(1, Number.MAX_SAFE_INTEGER), 100),
  access_log: v.optional(nonEmpty, '-'),
  /**
   * OTLP/HTTP collector for traces (docs/tracing.md), e.g. http://127.0.0.1:4318: setting it turns tracing on
   * (as OTEL_EXPORTER_OTLP_ENDPOINT does); `/v1/traces` is appended unless the path already ends with it.
   */
  tracing_endpoint: v.optional(httpUrl),
  /** Share of requests traced (0..1; unset: 1, or OTEL_TRACES_SAMPLER/_ARG); a client's sampled flag wins (parent-based). */
  tracing_sample_ratio: v.optional(ratio),
  buckets: v.optional(
    v.strictObject({
      ttft: bucketList(TTFT_BUCKETS),
      ttfc: bucketList(TTFT_BUCKETS),
      itl: bucketList(TPOT_BUCKETS),
      tpot: bucketList(TPOT_BUCKETS),
      e2e: bucketList(E2E_BUCKETS),
      prompt_tokens: bucketList(TOKEN_BUCKETS),
      completion_tokens: bucketList(TOKEN_BUCKETS),
    }),
    {},
  ),
  /** Attribution (docs/attribution.md): where a request's user comes from, in order; empty = off. */
  user_from: userSources,
  /** The HMAC-SHA256 secret of key ids (and of hashed user ids). Never printed. */
  key_id_secret: v.optional(v.pipe(v.string(), v.minLength(16, 'must be at least 16 characters (e.g. the output of `openssl rand -hex 32`)'))),
  /** Users appear as `u_` + a keyed hash of their id (emails are personal data). */
  hash_user_ids: bool(false),
  user_allowlist: stringList,
  max_users: v.optional(int(1, Number.MAX_SAFE_INTEGER), 100),
  prices: priceTable,
  /** The currency of `prices` (one per config), named in the cost metrics' HELP. */
  currency: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z][A-Za-z0-9_-]{0,15}$/, 'must be a currency code such as USD or EUR (letters, digits, _ and -; at most 16)')), 'USD'),
}),
  v.forward(
    v.check((c) => c.key_id_secret !== undefined || !c.user_from.includes('api_key'), `required when user_from contains api_key: ${SECRET_HINT}`),
    ['key_id_secret'],
  ),
  v.forward(v.check((c) => c.key_id_secret !== undefined || !c.hash_user_ids, `required when hash_user_ids is true: ${SECRET_HINT}`), ['key_id_secret']),
);

export type ConfigInput = v.InferInput<typeof configSchema>;
export type Config = v.InferOutput<typeof configSchema>;

/** Scalar/list fields settable from the environment as TOKENTAP_<FIELD>. */
export const ENV_FIELDS = [
  'upstream',
  'host',
  'port',
  'metrics_host',
  'metrics_port',
  'metrics_token',
  'body_limit',
  'upstream_connect_timeout',
  'upstream_headers_timeout',
  'upstream_idle_timeout',
  'shutdown_grace',
  'request_timeout',
  'client_send_timeout',
  'inject_usage',
  'trust_forwarded_headers',
  'workers',
  'model_allowlist',
  'max_models',
  'access_log',
  'user_from',
  'key_id_secret',
  'hash_user_ids',
  'user_allowlist',
  'max_users',
  'currency',
  'tracing_endpoint',
  'tracing_sample_ratio',
] as const;
