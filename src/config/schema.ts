/** The config schema: every field, its default, and how it is validated. Pure. */
import { z } from 'zod';
import { E2E_BUCKETS, TOKEN_BUCKETS, TPOT_BUCKETS, TTFT_BUCKETS } from './buckets.js';
import { parseBytes, parseDurationMs } from './units.js';

/** A field written with a unit ("30s", "64MiB") or as a bare number, converted by `parse`. */
const withUnit = (parse: (v: number | string) => number, bare: z.ZodNumber, def: string) =>
  z
    .union([bare, z.string()])
    .default(def)
    .transform((v, ctx) => {
      try {
        return parse(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    });

const duration = (def: string) => withUnit(parseDurationMs, z.number().nonnegative(), def);
const bytes = (def: string) => withUnit(parseBytes, z.number().int().positive(), def);

const port = (def: number) => z.coerce.number().int().min(0).max(65535).default(def);

const bool = (def: boolean) =>
  z
    .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])])
    .default(def)
    .transform((v) => (typeof v === 'boolean' ? v : ['true', '1', 'yes', 'on'].includes(v)));

const stringList = z
  .union([z.array(z.string()), z.string()])
  .default([])
  .transform((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v));

const bucketList = (def: number[]) =>
  z
    .array(z.number().positive())
    .min(1)
    .default(def)
    .refine((b) => b.every((v, i) => i === 0 || v > b[i - 1]), 'buckets must be strictly increasing');

const httpUrl = z
  .string()
  .refine((s) => /^https?:\/\/[^/\s]+/i.test(s), 'must be an http:// or https:// URL, e.g. http://127.0.0.1:8000');

export const configSchema = z.strictObject({
  /** Base URL of the OpenAI-compatible server (its root; a trailing /v1 is dropped). Unset: the built-in simulator. */
  upstream: httpUrl.optional(),
  host: z.string().min(1).default('0.0.0.0'),
  port: port(8080),
  metrics_host: z.string().min(1).default('0.0.0.0'),
  metrics_port: port(9464),
  /** Bearer token required on the metrics port's /metrics; unset = open. */
  metrics_token: z.string().min(1).optional(),
  body_limit: bytes('64MiB'),
  upstream_connect_timeout: duration('10s'),
  upstream_headers_timeout: duration('600s'),
  upstream_idle_timeout: duration('300s'),
  shutdown_grace: duration('30s'),
  /** Time a client has to send its whole request (headers and body); exceeded: 408, outcome rejected. */
  request_timeout: duration('300s'),
  inject_usage: bool(true),
  /** Proxy processes sharing the port (node:cluster); "auto" = one per CPU. */
  workers: z.union([z.literal('auto'), z.coerce.number().int().min(1).max(256)]).default(1),
  model_allowlist: stringList,
  max_models: z.coerce.number().int().min(1).default(100),
  access_log: z.string().min(1).default('-'),
  buckets: z
    .strictObject({
      ttft: bucketList(TTFT_BUCKETS),
      ttfc: bucketList(TTFT_BUCKETS),
      itl: bucketList(TPOT_BUCKETS),
      tpot: bucketList(TPOT_BUCKETS),
      e2e: bucketList(E2E_BUCKETS),
      prompt_tokens: bucketList(TOKEN_BUCKETS),
      completion_tokens: bucketList(TOKEN_BUCKETS),
    })
    .prefault({}),
});

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;

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
  'inject_usage',
  'workers',
  'model_allowlist',
  'max_models',
  'access_log',
] as const;
