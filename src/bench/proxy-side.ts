/**
 * The proxy-side view of a bench run, from two sources:
 * - tokentap's /metrics scraped before and after: quantiles from the bucket deltas (linear interpolation inside
 *   a bucket, as `histogram_quantile`) are approximate, so each one carries the bucket it lies in; means are
 *   exact (_sum/_count deltas); there is no max;
 * - tokentap's access log joined by x-request-id: exact TTFT, TTFC, TPOT, E2E and token figures over the very
 *   requests the client measured (ITL is not in the log: it stays from /metrics).
 * And how the bench finds the tokentap in front of the target, and makes sure it is that one (verifyTarget).
 */
import type { AccessLogEntry } from './join.js';
import { requestFailed } from './net-errors.js';
import {
  histogramDelta,
  histogramQuantileInBucket,
  readHistogram,
  scrape,
  ScrapeError,
  sumBy,
  sumSeries,
  type Labels,
  type QuantileInBucket,
  type Sample,
} from './prom-scrape.js';
import { summarize } from './stats.js';
import type { BenchEndpoint, RequestRecord } from './types.js';

/** The bucket a quantile was interpolated in (upper null: the +Inf bucket), in the figure's unit. */
export type QuantileBucket = Omit<QuantileInBucket, 'value'>;

export interface ProxySummary {
  count: number;
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  /** Exact figures only (from the access log); null from /metrics. */
  max: number | null;
  /** `log`: exact, from the access-log lines of this run's requests. `metrics`: from /metrics histogram deltas,
   * quantiles interpolated within buckets (approximate, see `buckets`), the mean exact. */
  source: 'log' | 'metrics';
  /** source `metrics`: the bucket each quantile lies in; the true quantile is somewhere in it. */
  buckets: Record<'p50' | 'p90' | 'p95' | 'p99', QuantileBucket | null> | null;
}

export interface ProxySide {
  /** The /metrics the figures come from (null: from the access log alone). */
  metricsUrl: string | null;
  /** The access log the exact figures come from (null: not joined). */
  logFile: string | null;
  endpointLabel: string;
  requests: number;
  byCode: Record<string, number>;
  byOutcome: Record<string, number>;
  /** Milliseconds. E2E counts outcome="ok" only (like the client side, successful requests). */
  ttftMs: ProxySummary;
  ttfcMs: ProxySummary;
  itlMs: ProxySummary;
  tpotMs: ProxySummary;
  e2eMs: ProxySummary;
  promptTokens: ProxySummary;
  completionTokens: ProxySummary;
  /** `tokentap_tokens_total` deltas by `type` (or the access log's sums). */
  tokens: Record<string, number>;
}

export const ENDPOINT_LABEL: Record<BenchEndpoint, string> = {
  chat: 'chat_completions',
  completions: 'completions',
  responses: 'responses',
};

const QUANTILES = [
  ['p50', 0.5],
  ['p90', 0.9],
  ['p95', 0.95],
  ['p99', 0.99],
] as const;

function histSummary(before: Sample[], after: Sample[], name: string, filter: (l: Labels) => boolean, scale: number): ProxySummary {
  const d = histogramDelta(readHistogram(before, name, filter), readHistogram(after, name, filter));
  const out: ProxySummary = {
    count: d.count,
    mean: d.count > 0 ? (d.sum / d.count) * scale : null,
    p50: null,
    p90: null,
    p95: null,
    p99: null,
    max: null,
    source: 'metrics',
    buckets: { p50: null, p90: null, p95: null, p99: null },
  };
  for (const [key, q] of QUANTILES) {
    const v = histogramQuantileInBucket(d, q);
    if (v === null) continue;
    out[key] = v.value * scale;
    out.buckets![key] = { lower: v.lower * scale, upper: v.upper === null ? null : v.upper * scale };
  }
  return out;
}

function counterDelta(before: Sample[], after: Sample[], name: string, by: string, filter: (l: Labels) => boolean): Record<string, number> {
  const b = sumBy(before, name, by, filter);
  const out: Record<string, number> = {};
  for (const [k, v] of sumBy(after, name, by, filter)) {
    const d = v - (b.get(k) ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

/** Proxy-side figures for one endpoint from two scrapes. */
export function proxySide(before: Sample[], after: Sample[], endpoint: BenchEndpoint, metricsUrl: string): ProxySide {
  const endpointLabel = ENDPOINT_LABEL[endpoint];
  const f = (l: Labels): boolean => l.endpoint === undefined || l.endpoint === endpointLabel;
  const byCode = counterDelta(before, after, 'tokentap_requests_total', 'code', f);
  const ms = 1000;
  return {
    metricsUrl,
    logFile: null,
    endpointLabel,
    requests: Object.values(byCode).reduce((a, b) => a + b, 0),
    byCode,
    byOutcome: counterDelta(before, after, 'tokentap_requests_total', 'outcome', f),
    ttftMs: histSummary(before, after, 'tokentap_time_to_first_token_seconds', f, ms),
    ttfcMs: histSummary(before, after, 'tokentap_time_to_first_content_seconds', f, ms),
    itlMs: histSummary(before, after, 'tokentap_inter_token_latency_seconds', f, ms),
    tpotMs: histSummary(before, after, 'tokentap_time_per_output_token_seconds', f, ms),
    // outcome="ok" only, as the client's latency figures are over successful requests
    e2eMs: histSummary(before, after, 'tokentap_request_duration_seconds', (l) => f(l) && (l.outcome === undefined || l.outcome === 'ok'), ms),
    promptTokens: histSummary(before, after, 'tokentap_request_prompt_tokens', f, 1),
    completionTokens: histSummary(before, after, 'tokentap_request_completion_tokens', f, 1),
    tokens: counterDelta(before, after, 'tokentap_tokens_total', 'type', f),
  };
}

function exact(values: readonly (number | null | undefined)[]): ProxySummary {
  const s = summarize(values);
  return { count: s.count, mean: s.mean, p50: s.p50, p90: s.p90, p95: s.p95, p99: s.p99, max: s.max, source: 'log', buckets: null };
}

const EMPTY_LOG_SUMMARY = (): ProxySummary => exact([]);

/**
 * The proxy side with exact figures from the access log: for each request the client measured as ok, the log
 * line with its x-request-id. TTFT, TTFC, TPOT, E2E and tokens are replaced (ITL is not in the log: it stays
 * from `metrics`, or is empty without). The counts by code and outcome cover every joined request.
 * Null when no request was joined.
 */
export function withAccessLog(
  metrics: ProxySide | null,
  records: readonly RequestRecord[],
  log: readonly AccessLogEntry[],
  logFile: string,
  endpoint: BenchEndpoint,
): ProxySide | null {
  const byId = new Map<string, AccessLogEntry>();
  for (const e of log) byId.set(e.request_id, e);
  const joined = records.flatMap((r) => {
    const e = byId.get(r.requestId);
    return e ? [{ r, e }] : [];
  });
  if (joined.length === 0) return metrics;
  const ok = joined.filter((x) => x.r.ok).map((x) => x.e);
  const count = (key: (e: AccessLogEntry) => unknown): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const { e } of joined) {
      const k = String(key(e) ?? '-');
      out[k] = (out[k] ?? 0) + 1;
    }
    return out;
  };
  const sum = (key: keyof AccessLogEntry): number => ok.reduce((a, e) => a + (typeof e[key] === 'number' ? (e[key] as number) : 0), 0);
  const tokens: Record<string, number> = {};
  for (const [type, key] of [
    ['prompt', 'prompt_tokens'],
    ['completion', 'completion_tokens'],
    ['cached_prompt', 'cached_tokens'],
    ['reasoning', 'reasoning_tokens'],
  ] as const) {
    const n = sum(key);
    if (n > 0) tokens[type] = n;
  }
  const fromLog = {
    ttftMs: exact(ok.map((e) => e.ttft_ms)),
    ttfcMs: exact(ok.map((e) => e.ttfc_ms)),
    tpotMs: exact(ok.map((e) => e.tpot_ms)),
    e2eMs: exact(ok.map((e) => e.e2e_ms)),
    promptTokens: exact(ok.map((e) => e.prompt_tokens)),
    completionTokens: exact(ok.map((e) => e.completion_tokens)),
  };
  if (metrics) return { ...metrics, logFile, ...fromLog };
  return {
    metricsUrl: null,
    logFile,
    endpointLabel: ENDPOINT_LABEL[endpoint],
    requests: joined.length,
    byCode: count((e) => e.status),
    byOutcome: count((e) => e.outcome),
    itlMs: EMPTY_LOG_SUMMARY(),
    tokens,
    ...fromLog,
  };
}

/** True when a scrape looks like tokentap's. */
export function isTokentapExposition(samples: readonly Sample[]): boolean {
  return samples.some((s) => s.name.startsWith('tokentap_'));
}

/** tokentap's default metrics port, where discovery looks besides the target's own origin. */
export const DEFAULT_METRICS_PORT = 9464;

/** Where discovery looks for tokentap's /metrics: `<origin>/metrics`, then `ports` on the target's host. */
export function discoveryCandidates(target: string, ports: readonly number[] = [DEFAULT_METRICS_PORT]): string[] {
  let u: URL;
  try {
    u = new URL(target);
  } catch {
    return [];
  }
  // u.hostname keeps an IPv6 address's brackets; the metrics port is plain http
  return [...new Set([`${u.origin}/metrics`, ...ports.map((p) => `http://${u.hostname}:${p}/metrics`)])];
}

export interface Discovery {
  /** A tokentap /metrics that serves the target (verified), or null. */
  metricsUrl: string | null;
  /** Why there is none, or what was passed over on the way: for the report. */
  notes: string[];
}

/**
 * Looks for the tokentap in front of the target: each candidate that serves `tokentap_*` series is checked
 * with verifyTarget, and the first that passes is taken. A tokentap that does not see the target's requests
 * (another tokentap on :9464 while the target is the upstream itself, or an unreachable port) is passed over,
 * with a note. A protected /metrics (401) without a token is a note too, naming --metrics-token.
 */
export async function discoverMetricsUrl(
  target: string,
  o: { ports?: readonly number[]; token?: string; headers?: Record<string, string>; timeoutMs?: number; idPrefix?: string } = {},
): Promise<Discovery> {
  const notes: string[] = [];
  for (const url of discoveryCandidates(target, o.ports)) {
    let samples: Sample[];
    try {
      samples = await scrape(url, o.timeoutMs ?? 1500, o.token);
    } catch (e) {
      // nothing there is the usual case; a protected tokentap /metrics is worth saying
      if (e instanceof ScrapeError && (e.status === 401 || e.status === 403)) notes.push(e.message);
      continue;
    }
    if (!isTokentapExposition(samples)) continue;
    const v = await verifyTarget(target, url, { headers: o.headers, token: o.token, before: samples, idPrefix: o.idPrefix });
    if (v.ok) return { metricsUrl: url, notes };
    notes.push(`not using the tokentap at ${url}: ${v.reason}`);
  }
  if (notes.length === 0) {
    notes.push(`no tokentap /metrics found at ${discoveryCandidates(target, o.ports).join(' or ')} (give --metrics-url, or --no-discover)`);
  }
  return { metricsUrl: null, notes };
}

/** The path the probes ask for, under the target: no server has it, so it costs the upstream a 404. */
export const PROBE_PATH = '/tokentap-bench-probe';
export const PROBES = 3;

export type Verification = { ok: true } | { ok: false; reason: string };

/**
 * Is the tokentap at `metricsUrl` the one the target's requests go through? PROBES requests
 * `GET <target>/tokentap-bench-probe` are sent to the target (a tokentap forwards them, endpoint "other"; the
 * upstream answers them, usually 404, without work), and tokentap_requests_total{endpoint="other"} with the
 * status the bench got must grow by at least PROBES between a scrape before and after (polled for up to
 * `waitMs`, as tokentap counts a request just after its last byte). Another tokentap would have to receive
 * that many requests of that rare kind in those few milliseconds to pass; a target that is not a tokentap, or
 * is down, cannot. Cost: PROBES tiny requests and two or three scrapes; they show in tokentap's counters as
 * endpoint="other" requests with that status.
 */
export async function verifyTarget(
  target: string,
  metricsUrl: string,
  o: { headers?: Record<string, string>; token?: string; before?: Sample[]; waitMs?: number; idPrefix?: string } = {},
): Promise<Verification> {
  const isOther = (l: Labels): boolean => l.endpoint === 'other';
  const countFor = (samples: Sample[], codes: Set<string>): number =>
    sumSeries(samples, 'tokentap_requests_total', (l) => isOther(l) && codes.has(l.code ?? ''));
  let before: Sample[];
  try {
    before = o.before ?? (await scrape(metricsUrl, 1500, o.token));
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  const url = `${target.replace(/\/+$/, '')}${PROBE_PATH}`;
  const codes = new Set<string>();
  for (let i = 0; i < PROBES; i++) {
    try {
      const res = await fetch(url, { headers: { ...o.headers, 'x-request-id': `${o.idPrefix ?? 'bench-'}probe${i}` }, signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer().catch(() => undefined);
      codes.add(String(res.status));
    } catch (e) {
      return { ok: false, reason: `the probe ${requestFailed('GET', url, e, 5000)}` };
    }
  }
  const deadline = performance.now() + (o.waitMs ?? 1000);
  let seen = 0;
  for (;;) {
    try {
      seen = countFor(await scrape(metricsUrl, 1500, o.token), codes) - countFor(before, codes);
    } catch (e) {
      return { ok: false, reason: (e as Error).message };
    }
    if (seen >= PROBES || performance.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (seen >= PROBES) return { ok: true };
  return {
    ok: false,
    reason: `it counted ${Math.max(0, seen)} of ${PROBES} probe requests sent to ${url}, so the target's requests do not go through it`,
  };
}
