/**
 * `runBench(options)`: find tokentap's /metrics and check that the target's requests go through it
 * (proxy-side.ts verifyTarget), warm-up, scrape, run the load, scrape again, join with tokentap's access log
 * (exact proxy-side figures, or a warning saying why the join came up short), summarise. Used by the CLI and
 * by tests.
 */
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { buildBody, endpointUrl, sendRequest, type RequestSpec } from './client.js';
import { createRng, formatDistribution, parseDistribution, sample, type Distribution } from './distributions.js';
import { joinByRequestId } from './join.js';
import { runLoad } from './load.js';
import { synthPrompt } from './prompt.js';
import { scrape, sumSeries, type Sample } from './prom-scrape.js';
import { joinWarning, logOffset, readProxyLog } from './proxy-log.js';
import { discoverMetricsUrl, ENDPOINT_LABEL, isTokentapExposition, proxySide, verifyTarget, withAccessLog, type ProxySide } from './proxy-side.js';
import { summarize } from './stats.js';
import type { BenchEndpoint, RequestRecord } from './types.js';
import type { BenchSummary } from './summary.js';

export interface BenchOptions {
  /** OpenAI-compatible base URL, e.g. `http://127.0.0.1:8080/v1`. */
  target: string;
  apiKey?: string;
  model: string;
  endpoint?: BenchEndpoint;
  /** Default true. */
  stream?: boolean;
  /** Closed loop with this many workers (default 1 without `rate`); with `rate`, a cap on requests in flight. */
  concurrency?: number;
  /** Open loop: Poisson arrivals at this many requests/s. */
  rate?: number;
  requests?: number;
  durationMs?: number;
  /** Closed loop: stagger the workers' first requests over this long. */
  rampUpMs?: number;
  warmupRequests?: number;
  warmupMs?: number;
  /** A Distribution, its string form (`128`, `uniform:a:b`, `normal:mu:sigma`) or a fixed number. */
  promptTokens?: Distribution | string | number;
  maxTokens?: Distribution | string | number;
  seed?: number;
  timeoutMs?: number;
  extraBody?: Record<string, unknown>;
  headers?: Record<string, string>;
  /** tokentap's metrics URL; null disables scraping. Checked with verifyTarget: a warning when the target's
   * requests do not go through it. */
  metricsUrl?: string | null;
  /** Bearer token for a protected /metrics (tokentap's metrics_token). */
  metricsToken?: string;
  /** Look for tokentap's /metrics next to the target when no metricsUrl is given (and use it only when
   * verifyTarget shows the target's requests go through it). Default true. */
  discoverMetrics?: boolean;
  /** The ports discovery tries on the target's host besides the target's own origin. Default [9464]. */
  discoverPorts?: number[];
  /** tokentap's access log (JSON lines) to join with by x-request-id. */
  proxyLog?: string;
  /** How long to wait for every request's line in proxyLog (tokentap flushes at least every 200 ms). Default 3000. */
  proxyLogWaitMs?: number;
  runId?: string;
  signal?: AbortSignal;
  onPhase?: (phase: 'warmup' | 'run' | 'collect') => void;
  onRecord?: (r: RequestRecord) => void;
}

export interface BenchResult {
  runId: string;
  startedAt: string;
  config: Record<string, unknown>;
  summary: BenchSummary;
  records: RequestRecord[];
}

const dist = (d: Distribution | string | number | undefined, dflt: Distribution): Distribution =>
  d === undefined ? dflt : typeof d === 'string' ? parseDistribution(d) : typeof d === 'number' ? parseDistribution(String(d)) : d;

async function tryScrape(url: string, token: string | undefined): Promise<{ samples: Sample[] } | { error: string }> {
  try {
    return { samples: await scrape(url, 5000, token) };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

/** tokentap_requests_total for the endpoint, in one scrape. */
const requestsFor = (samples: Sample[], endpointLabel: string): number =>
  sumSeries(samples, 'tokentap_requests_total', (l) => l.endpoint === endpointLabel);

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const endpoint = o.endpoint ?? 'chat';
  const stream = o.stream ?? true;
  const promptDist = dist(o.promptTokens, { kind: 'fixed', value: 128 });
  const maxDist = dist(o.maxTokens, { kind: 'fixed', value: 128 });
  const seed = o.seed ?? 1;
  const runId = o.runId ?? randomBytes(4).toString('hex');
  const url = endpointUrl(o.target, endpoint);
  const timeoutMs = o.timeoutMs ?? 300_000;
  const rng = createRng(seed);
  const arrivals = createRng(seed ^ 0x9e3779b9);
  const connections = o.rate === undefined ? Math.max(1, o.concurrency ?? 1) : (o.concurrency ?? null);
  const agent = new Agent({ connections, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, keepAliveTimeout: 30_000 });
  const headers: Record<string, string> = { 'content-type': 'application/json', ...o.headers };
  if (o.apiKey) headers.authorization = `Bearer ${o.apiKey}`;
  const signal = o.signal ?? new AbortController().signal;

  const makeSpec = (index: number, id: string): RequestSpec => {
    const p = sample(promptDist, rng);
    const m = sample(maxDist, rng);
    const body = buildBody({ endpoint, model: o.model, prompt: synthPrompt(p, rng), maxTokens: m, stream, extraBody: o.extraBody });
    return { index, requestId: id, url, headers, body: JSON.stringify(body), stream, requestedPromptTokens: p, requestedMaxTokens: m };
  };

  const startedAt = new Date().toISOString();
  const records: RequestRecord[] = [];
  let metricsUrl: string | null = o.metricsUrl ? withMetricsPath(o.metricsUrl) : null;
  let proxyError: string | null = null;
  const warnings: string[] = [];
  const token = o.metricsToken;
  let durationMs = 0;
  try {
    if (metricsUrl !== null) {
      // given: use it, but say so when the target's requests do not go through it
      const s = await tryScrape(metricsUrl, token);
      if ('error' in s) {
        proxyError = s.error;
        metricsUrl = null;
      } else if (!isTokentapExposition(s.samples)) {
        proxyError = `${metricsUrl} serves no tokentap_* series: it is not a tokentap's /metrics`;
        metricsUrl = null;
      } else {
        const v = await verifyTarget(o.target, metricsUrl, { headers, token, before: s.samples, idPrefix: `bench-${runId}-` });
        if (!v.ok) warnings.push(`the tokentap at ${metricsUrl} (--metrics-url) may not be the target's: ${v.reason}; its figures below may be of other requests`);
      }
    } else if (o.metricsUrl === undefined && (o.discoverMetrics ?? true)) {
      const d = await discoverMetricsUrl(o.target, { ports: o.discoverPorts, token, headers, idPrefix: `bench-${runId}-` });
      metricsUrl = d.metricsUrl;
      if (metricsUrl === null) proxyError = d.notes.join('; ');
      else warnings.push(...d.notes);
    }

    if ((o.warmupRequests ?? 0) > 0 || (o.warmupMs ?? 0) > 0) {
      o.onPhase?.('warmup');
      const t = performance.now();
      await runLoad(
        { concurrency: o.concurrency ?? 1, rate: o.rate, requests: o.warmupRequests || undefined, durationMs: o.warmupMs || undefined, rng: arrivals, signal },
        async (i) => {
          await sendRequest(makeSpec(i, `bench-${runId}-w${i}`), agent, t, timeoutAny(signal, timeoutMs));
        },
      );
    }

    let before: Sample[] | null = null;
    if (metricsUrl) {
      const s = await tryScrape(metricsUrl, token);
      if ('samples' in s) before = s.samples;
      else proxyError = `scrape before the run: ${s.error}`;
    }
    const logStart = o.proxyLog ? await logOffset(o.proxyLog) : 0;

    o.onPhase?.('run');
    const runStart = performance.now();
    const load = await runLoad(
      { concurrency: o.concurrency ?? (o.rate === undefined ? 1 : undefined), rate: o.rate, requests: o.requests, durationMs: o.durationMs, rampUpMs: o.rampUpMs, rng: arrivals, signal },
      async (i) => {
        const r = await sendRequest(makeSpec(i, `bench-${runId}-${i}`), agent, runStart, timeoutAny(signal, timeoutMs));
        records.push(r);
        o.onRecord?.(r);
      },
    );
    durationMs = load.elapsedMs;
    records.sort((a, b) => a.index - b.index);

    o.onPhase?.('collect');
    const answered = records.filter((r) => r.status !== null).length;
    let proxy: ProxySide | null = null;
    if (metricsUrl && before) {
      // tokentap counts a request just after its last byte: scrape until it has counted every answered one
      const label = ENDPOINT_LABEL[endpoint];
      const deadline = performance.now() + 1000;
      let s = await tryScrape(metricsUrl, token);
      while ('samples' in s && requestsFor(s.samples, label) - requestsFor(before, label) < answered && performance.now() < deadline) {
        await sleep(50);
        s = await tryScrape(metricsUrl, token);
      }
      if ('samples' in s) {
        proxy = proxySide(before, s.samples, endpoint, metricsUrl);
        if (proxy.requests < answered) {
          warnings.push(`the tokentap at ${metricsUrl} counted ${proxy.requests} ${label} requests during the run, fewer than the ${answered} answered`);
        }
      } else proxyError = `scrape after the run: ${s.error}`;
    }
    let join = null;
    if (o.proxyLog) {
      const read = await readProxyLog(o.proxyLog, new Set(records.filter((r) => r.status !== null).map((r) => r.requestId)), o.proxyLogWaitMs ?? 3000, logStart);
      const j = joinByRequestId(records, read.entries);
      const warning = joinWarning(o.proxyLog, j.matched, answered, records.length, read, `bench-${runId}-`);
      if (warning) warnings.push(warning);
      join = { file: o.proxyLog, matched: j.matched, unmatchedClient: j.unmatchedClient, warning, ttftDiffMs: j.ttftDiffMs, e2eDiffMs: j.e2eDiffMs };
      proxy = withAccessLog(proxy, records, read.entries, o.proxyLog, endpoint);
    }
    const summary = summariseRecords(records, durationMs);
    summary.proxy = proxy;
    summary.proxyError = proxy === null ? proxyError : null;
    if (proxy !== null && proxyError !== null) warnings.push(`no /metrics figures: ${proxyError}`);
    summary.warnings = warnings;
    summary.join = join;
    const config = {
      target: o.target,
      model: o.model,
      endpoint,
      stream,
      concurrency: o.concurrency ?? null,
      rate: o.rate ?? null,
      requests: o.requests ?? null,
      durationMs: o.durationMs ?? null,
      rampUpMs: o.rampUpMs ?? null,
      warmupRequests: o.warmupRequests ?? 0,
      warmupMs: o.warmupMs ?? 0,
      promptTokens: formatDistribution(promptDist),
      maxTokens: formatDistribution(maxDist),
      seed,
      metricsUrl,
      metricsToken: token ? '(set)' : null,
      proxyLog: o.proxyLog ?? null,
    };
    return { runId, startedAt, config, summary, records };
  } finally {
    await agent.close().catch(() => undefined);
  }
}

/** `http://h:9464` → `http://h:9464/metrics`; a URL with a path is kept as given. */
export function withMetricsPath(url: string): string {
  try {
    const u = new URL(url);
    if (u.pathname === '/' || u.pathname === '') u.pathname = '/metrics';
    return u.toString();
  } catch {
    return url;
  }
}

function timeoutAny(signal: AbortSignal, ms: number): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(ms)]);
}

/** Client-side summary of a set of records (latency figures over the successful requests). */
export function summariseRecords(records: readonly RequestRecord[], durationMs: number): BenchSummary {
  const ok = records.filter((r) => r.ok);
  const errorBreakdown: Record<string, number> = {};
  for (const r of records) if (!r.ok) errorBreakdown[r.error ?? 'error'] = (errorBreakdown[r.error ?? 'error'] ?? 0) + 1;
  const outTokens = ok.reduce((a, r) => a + (r.completionTokens ?? 0), 0);
  const inTokens = ok.reduce((a, r) => a + (r.promptTokens ?? 0), 0);
  const secs = durationMs / 1000;
  const rate = (n: number): number => (secs > 0 ? n / secs : 0);
  return {
    requests: records.length,
    ok: ok.length,
    errors: records.length - ok.length,
    errorRate: records.length > 0 ? (records.length - ok.length) / records.length : 0,
    errorBreakdown,
    durationS: secs,
    requestThroughput: rate(ok.length),
    outputTokenThroughput: rate(outTokens),
    totalTokenThroughput: rate(outTokens + inTokens),
    totalPromptTokens: inTokens,
    totalCompletionTokens: outTokens,
    usage: {
      reported: ok.filter((r) => r.usage === 'reported').length,
      estimated: ok.filter((r) => r.usage === 'estimated').length,
    },
    client: {
      ttftMs: summarize(ok.map((r) => r.ttftMs)),
      ttfcMs: summarize(ok.map((r) => r.ttfcMs)),
      itlMs: summarize(ok.flatMap((r) => r.itlMs)),
      tpotMs: summarize(ok.map((r) => r.tpotMs)),
      e2eMs: summarize(ok.map((r) => r.e2eMs)),
      promptTokens: summarize(ok.map((r) => r.promptTokens)),
      completionTokens: summarize(ok.map((r) => r.completionTokens)),
    },
    proxy: null,
    proxyError: null,
    warnings: [],
    join: null,
  };
}
