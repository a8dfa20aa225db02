/**
 * Whether tracing is on, and how: from the config fields `tracing_endpoint` / `tracing_sample_ratio` and the
 * standard OpenTelemetry environment (OTEL_EXPORTER_OTLP_*, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER/_ARG,
 * OTEL_TRACES_EXPORTER, OTEL_SDK_DISABLED, OTEL_BSP_*). Pure: no OpenTelemetry module is loaded to decide, so
 * tracing off costs nothing (src/trace/tracer.ts, which loads the SDK, is imported only when this says on).
 */
import type { Config } from '../config/schema.js';

/** How a request is chosen for tracing (the OTEL_TRACES_SAMPLER names). */
export interface SamplerSpec {
  /** The OTEL_TRACES_SAMPLER name in effect, for the startup line. */
  name: string;
  /** Share of root traces sampled: 1 always_on, 0 always_off, else traceidratio. */
  ratio: number;
  /** A client's traceparent decides (its sampled flag) when present. */
  parentBased: boolean;
}

/** The BatchSpanProcessor's bounds (OTEL_BSP_* names and defaults). */
export interface BatchSettings {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
}

export interface TracingSettings {
  /** The OTLP/HTTP traces URL (…/v1/traces). */
  url: string;
  /** Where the URL came from, for the startup line. */
  urlSource: 'tracing_endpoint' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' | 'OTEL_EXPORTER_OTLP_ENDPOINT';
  serviceName: string;
  sampler: SamplerSpec;
  batch: BatchSettings;
  /** OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT (ms), undefined: the exporter's default (10 s, retries included). The
   * exporter reads OTEL_EXPORTER_OTLP_*HEADERS, *COMPRESSION and the certificate variables itself. */
  exportTimeoutMs: number | undefined;
}

export interface ResolvedTracing {
  /** null: tracing is off. */
  settings: TracingSettings | null;
  /** Settings that were ignored, one line each (printed at startup). */
  warnings: string[];
}

/** How long shutdown waits for the last spans to be exported: a dead or slow collector must not hold SIGTERM. */
export const SHUTDOWN_FLUSH_MS = 1500;

const TRACES_PATH = '/v1/traces';

/** A base URL with `/v1/traces` appended (OTEL_EXPORTER_OTLP_ENDPOINT's rule); kept as is when it ends with it already. */
export function tracesUrl(base: string): string {
  const u = new URL(base);
  if (u.pathname.replace(/\/+$/, '').endsWith(TRACES_PATH)) return u.toString();
  u.pathname = `${u.pathname.replace(/\/+$/, '')}${TRACES_PATH}`;
  return u.toString();
}

const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : v.trim());

const SAMPLERS: Record<string, Omit<SamplerSpec, 'name' | 'ratio'> & { ratio?: number }> = {
  always_on: { ratio: 1, parentBased: false },
  always_off: { ratio: 0, parentBased: false },
  traceidratio: { parentBased: false },
  parentbased_always_on: { ratio: 1, parentBased: true },
  parentbased_always_off: { ratio: 0, parentBased: true },
  parentbased_traceidratio: { parentBased: true },
};

function samplerFrom(config: Config, env: NodeJS.ProcessEnv, warnings: string[]): SamplerSpec {
  if (config.tracing_sample_ratio !== undefined) {
    return { name: `parentbased_traceidratio ${config.tracing_sample_ratio} (tracing_sample_ratio)`, ratio: config.tracing_sample_ratio, parentBased: true };
  }
  const name = nonEmpty(env.OTEL_TRACES_SAMPLER)?.toLowerCase() ?? 'parentbased_always_on';
  let known = SAMPLERS[name];
  let used = name;
  if (known === undefined) {
    warnings.push(`OTEL_TRACES_SAMPLER=${name} is not supported (${Object.keys(SAMPLERS).join(', ')}): using parentbased_always_on`);
    known = SAMPLERS.parentbased_always_on;
    used = 'parentbased_always_on';
  }
  let ratio = known.ratio;
  if (ratio === undefined) {
    const arg = nonEmpty(env.OTEL_TRACES_SAMPLER_ARG);
    const n = arg === undefined ? 1 : Number(arg);
    if (!Number.isFinite(n) || n < 0 || n > 1) {
      warnings.push(`OTEL_TRACES_SAMPLER_ARG=${arg} is not a number from 0 to 1: using 1`);
      ratio = 1;
    } else ratio = n;
  }
  return { name: known.ratio === undefined ? `${used} ${ratio}` : used, ratio, parentBased: known.parentBased };
}

const BSP: [keyof BatchSettings, string, number][] = [
  ['maxQueueSize', 'OTEL_BSP_MAX_QUEUE_SIZE', 2048],
  ['maxExportBatchSize', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512],
  ['scheduledDelayMillis', 'OTEL_BSP_SCHEDULE_DELAY', 5000],
  ['exportTimeoutMillis', 'OTEL_BSP_EXPORT_TIMEOUT', 30_000],
];

function batchFrom(env: NodeJS.ProcessEnv, warnings: string[]): BatchSettings {
  const out = {} as BatchSettings;
  for (const [key, name, dflt] of BSP) {
    const raw = nonEmpty(env[name]);
    const n = raw === undefined ? dflt : Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 1_000_000) {
      warnings.push(`${name}=${raw} is not a whole number from 1 to 1000000: using ${dflt}`);
      out[key] = dflt;
    } else out[key] = n;
  }
  if (out.maxExportBatchSize > out.maxQueueSize) out.maxExportBatchSize = out.maxQueueSize;
  return out;
}

function timeoutFrom(env: NodeJS.ProcessEnv, warnings: string[]): number | undefined {
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT']) {
    const raw = nonEmpty(env[name]);
    if (raw === undefined) continue;
    const n = Number(raw);
    if (Number.isFinite(n) && n > 0) return n;
    warnings.push(`${name}=${raw} is not a positive number of milliseconds: using 10000`);
    return undefined;
  }
  return undefined;
}

const isTrue = (v: string | undefined) => nonEmpty(v)?.toLowerCase() === 'true';

/**
 * Tracing is on when `tracing_endpoint` is set or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT
 * is, unless OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. The config field wins over the environment.
 */
export function resolveTracing(config: Config, env: NodeJS.ProcessEnv): ResolvedTracing {
  const warnings: string[] = [];
  if (isTrue(env.OTEL_SDK_DISABLED)) return { settings: null, warnings };
  const exporters = (nonEmpty(env.OTEL_TRACES_EXPORTER) ?? 'otlp').toLowerCase().split(',').map((s) => s.trim());
  if (exporters.includes('none')) return { settings: null, warnings };

  let url: string;
  let urlSource: TracingSettings['urlSource'];
  const specific = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const general = nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  try {
    if (config.tracing_endpoint !== undefined) [url, urlSource] = [tracesUrl(config.tracing_endpoint), 'tracing_endpoint'];
    else if (specific !== undefined) [url, urlSource] = [new URL(specific).toString(), 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
    else if (general !== undefined) [url, urlSource] = [tracesUrl(general), 'OTEL_EXPORTER_OTLP_ENDPOINT'];
    else return { settings: null, warnings };
  } catch {
    const name = config.tracing_endpoint !== undefined ? 'tracing_endpoint' : specific !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
    warnings.push(`${name} is not a URL: tracing is off`);
    return { settings: null, warnings };
  }
  if (!/^https?:$/.test(new URL(url).protocol)) {
    warnings.push(`${urlSource} must be an http:// or https:// URL (tokentap exports OTLP over HTTP): tracing is off`);
    return { settings: null, warnings };
  }
  if (!exporters.includes('otlp')) {
    warnings.push(`OTEL_TRACES_EXPORTER=${exporters.join(',')}: tokentap exports OTLP only (to ${urlSource})`);
  }
  const protocol = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_PROTOCOL);
  if (protocol !== undefined && protocol !== 'http/protobuf') {
    warnings.push(`OTEL_EXPORTER_OTLP_PROTOCOL=${protocol}: tokentap sends OTLP/HTTP protobuf only (a collector's port 4318, not gRPC's 4317)`);
  }
  return {
    settings: {
      url,
      urlSource,
      serviceName: nonEmpty(env.OTEL_SERVICE_NAME) ?? 'tokentap',
      sampler: samplerFrom(config, env, warnings),
      batch: batchFrom(env, warnings),
      exportTimeoutMs: timeoutFrom(env, warnings),
    },
    warnings,
  };
}
