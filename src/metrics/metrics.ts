/** tokentap's Prometheus metrics: definitions, and recording one finished request. */
import client from 'prom-client';
import type { Config } from '../config/schema.js';
import type { MeterRecord } from '../meter/record.js';
import type { Endpoint } from '../proxy/endpoint.js';
import { FastCounter, FastGauge } from './fast-counter.js';
import { ExemplarHistogram, FastHistogram } from './fast-histogram.js';
import { promClientOpenMetrics } from './openmetrics.js';
import { renderExposition, type ExpositionParts } from './sliced-render.js';
import { userMetrics } from './user-metrics.js';

export type Outcome =
  | 'ok'
  | 'upstream_error'
  | 'unreachable'
  | 'timeout'
  | 'client_aborted'
  | 'stream_error'
  | 'rejected'
  /** tokentap itself failed while handling the request (a bug): answered 500, or the stream was cut. */
  | 'internal_error';

export interface FinishedRequest {
  model: string;
  endpoint: Endpoint;
  stream: boolean;
  code: number;
  outcome: Outcome;
  record: MeterRecord;
  /** The upstream's own x-request-id, when it sent one (the access log keeps it beside tokentap's). */
  upstreamRequestId?: string | null;
  /** Attribution (docs/attribution.md): the user as logged (null: none or attribution off)… */
  user?: string | null;
  /** …its bounded `user` label (used only when the user metrics exist)… */
  userLabel?: string;
  /** …and the id of the request's API key (null without key_id_secret or without a key). */
  keyId?: string | null;
  /** The request's cost in `currency`; null when unpriced, not metered for tokens, or no price table. */
  cost?: number | null;
  /** The request's trace id when tracing sampled it. */
  traceId?: string | null;
}

/** Which optional metric families exist (each costs nothing per request when absent). */
export interface MetricFeatures {
  /** `user_from` is set: the per-user counters. */
  users?: boolean;
  /** `prices` is set: the cost counters, HELP naming this currency. */
  currency?: string;
}

const ME = ['model', 'endpoint'];

/** Where a request's exemplars come from (its Exchange): the ids they carry, and t0 to time the E2E one. */
export interface ExemplarSource {
  readonly requestId: string;
  readonly traceId: string | null;
  readonly t0: number;
}

/** `probeUpstream`: can a connection to the upstream be opened now? (asked at each scrape) */
export function createMetrics(buckets: Config['buckets'], probeUpstream?: () => Promise<boolean>, features: MetricFeatures = {}) {
  /** prom-client's own metrics: counters, the gauge, process metrics. */
  const register = new client.Registry();
  /** The per-request metrics (Fast*): registered here for the cluster aggregation, exposed as text directly. */
  const fastRegister = new client.Registry();
  client.collectDefaultMetrics({ register, prefix: 'tokentap_' });
  // prom-client names three of its gauges `*_total`, which `promtool check metrics` rejects (only counters
  // may end in _total), and it has no option to leave single collectors out. Their per-type siblings stay
  // (`tokentap_nodejs_active_handles{type}` etc.): sum() over them is the same total.
  for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total']) {
    register.removeSingleMetric(`tokentap_nodejs_${name}`);
  }
  const fast: ExpositionParts[] = [];
  const histogram = (name: string, help: string, b: number[], labelNames = ME) => {
    const h = new FastHistogram(name, help, labelNames, b, fastRegister);
    fast.push(h);
    return h;
  };
  /** A histogram whose buckets carry exemplars (request id, trace id), in the OpenMetrics format. */
  const exemplarHistogram = (name: string, help: string, b: number[], labelNames = ME) => {
    const h = new ExemplarHistogram(name, help, labelNames, b, fastRegister);
    fast.push(h);
    return h;
  };
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) => {
    const c = new FastCounter(name, help, labelNames, fastRegister);
    fast.push(c);
    return c;
  };

  const requests = counter(
    'tokentap_requests_total',
    'Requests handled, by the HTTP status the client got and how the request ended.',
    ['model', 'endpoint', 'stream', 'code', 'outcome'],
  );
  if (probeUpstream !== undefined) {
    new client.Gauge({
      name: 'tokentap_upstream_up',
      help: '1 when a TCP connection to the upstream could be opened (checked at most once a second, shared with /readyz), else 0.',
      registers: [register],
      aggregator: 'min', // with --workers: up only if every worker reaches it
      async collect() {
        this.set((await probeUpstream()) ? 1 : 0);
      },
    });
  }
  const inFlight = new FastGauge('tokentap_requests_in_flight', 'Requests being handled now.', ME, fastRegister);
  fast.push(inFlight);
  const duration = exemplarHistogram(
    'tokentap_request_duration_seconds',
    'End-to-end latency: last byte sent to the client minus request headers received.',
    buckets.e2e,
    ['model', 'endpoint', 'stream', 'outcome'],
  );
  const ttft = exemplarHistogram('tokentap_time_to_first_token_seconds', 'Time to the first token event (streaming).', buckets.ttft);
  const ttfc = histogram(
    'tokentap_time_to_first_content_seconds',
    'Time to the first event with content, text or tool calls (streaming; later than TTFT for reasoning models).',
    buckets.ttfc,
  );
  const itl = histogram('tokentap_inter_token_latency_seconds', 'Gap between consecutive token events (streaming).', buckets.itl);
  const tpot = histogram(
    'tokentap_time_per_output_token_seconds',
    '(last token event - first token event) / (completion_tokens - 1), streaming, completion_tokens >= 2.',
    buckets.tpot,
  );
  const promptTokens = histogram('tokentap_request_prompt_tokens', 'Prompt tokens per request.', buckets.prompt_tokens);
  const completionTokens = histogram(
    'tokentap_request_completion_tokens',
    'Completion tokens per request (estimated from token events when the upstream reports no usage).',
    buckets.completion_tokens,
  );
  const tokens = counter('tokentap_tokens_total', 'Tokens, by type: prompt, completion, cached_prompt, reasoning.', [
    'model',
    'endpoint',
    'type',
  ]);
  const estimated = counter(
    'tokentap_usage_estimated_total',
    'Requests whose token counts were estimated because the upstream reported no usage.',
    ME,
  );

  const currency = features.currency;
  const costTotal =
    currency === undefined ? null : counter('tokentap_cost_total', `Cost of the requests in ${currency}, from the configured price table and the tokens used.`, ['model']);
  const unpriced =
    currency === undefined
      ? null
      : counter('tokentap_cost_unpriced_requests_total', 'Requests metered for tokens whose model has no price in the price table (their cost is not counted).', [
          'model',
        ]);
  const users = features.users === true ? userMetrics(counter, currency) : null;

  const connectionsClosed = counter(
    'tokentap_connections_closed_total',
    'Client connections closed by tokentap without a request, by reason (idle_timeout: no byte within request_timeout).',
    ['reason'],
  );
  const idleClosed = connectionsClosed.labels('idle_timeout');
  // Declared when tracing starts (src/trace/), so that tracing off exposes no family without samples.
  let spansDropped: ReturnType<ReturnType<typeof counter>['labels']> | null = null;
  const traceSpansDropped = () =>
    (spansDropped ??= counter(
      'tokentap_trace_spans_dropped_total',
      'Trace spans not exported: the export queue was full (the collector is down or slow) or an export failed.',
      [],
    ).labels());

  /** The children of one (model, endpoint) pair, bound once: label lookups are not free on the hot path. */
  const bind = (model: string, endpoint: Endpoint) => ({
    inFlight: inFlight.labels(model, endpoint),
    ttft: ttft.labels(model, endpoint),
    ttfc: ttfc.labels(model, endpoint),
    itl: itl.labels(model, endpoint),
    tpot: tpot.labels(model, endpoint),
    promptTokens: promptTokens.labels(model, endpoint),
    completionTokens: completionTokens.labels(model, endpoint),
    estimated: estimated.labels(model, endpoint),
    prompt: tokens.labels(model, endpoint, 'prompt'),
    completion: tokens.labels(model, endpoint, 'completion'),
    cached: tokens.labels(model, endpoint, 'cached_prompt'),
    reasoning: tokens.labels(model, endpoint, 'reasoning'),
    requests: new Map<string, ReturnType<typeof requests.labels>>(),
    duration: new Map<string, ReturnType<typeof duration.labels>>(),
    cost: costTotal?.labels(model) ?? null,
    unpriced: unpriced?.labels(model) ?? null,
  });
  type Series = ReturnType<typeof bind>;
  const bound = new Map<string, Series>();
  const series = (model: string, endpoint: Endpoint) => {
    const key = `${endpoint} ${model}`;
    let b = bound.get(key);
    if (b === undefined) bound.set(key, (b = bind(model, endpoint)));
    return b;
  };
  const cached = <T>(map: Map<string, T>, key: string, make: () => T): T => {
    let v = map.get(key);
    if (v === undefined) map.set(key, (v = make()));
    return v;
  };

  /** Records one finished request; `b`: its series, when the caller bound them already (see `series`);
   * `source`: the request, for the E2E histogram's exemplar (none without). */
  function record(r: FinishedRequest, b: Series = series(r.model, r.endpoint), source?: ExemplarSource): void {
    const { model, endpoint, record: rec } = r;
    const stream = r.stream ? 'true' : 'false';
    const code = String(r.code);
    cached(b.requests, `${stream} ${code} ${r.outcome}`, () => requests.labels(model, endpoint, stream, code, r.outcome)).inc();
    const e2e = cached(b.duration, `${stream} ${r.outcome}`, () => duration.labels(model, endpoint, stream, r.outcome));
    if (source === undefined) e2e.observe(rec.e2eMs / 1000);
    else e2e.observeWithExemplar(rec.e2eMs / 1000, source.requestId, source.traceId, source.t0 + rec.e2eMs);
    // TTFT, time to first content, ITL and the completion tokens of token events were observed live
    // (Exchange.observeTokenEvent); what is left is what only the end knows.
    if (rec.tpotMs !== null) b.tpot.observe(rec.tpotMs / 1000);
    if (users !== null) users.record(r);
    if (rec.usage === null) return;
    if (b.cost !== null) {
      if (r.cost != null) b.cost.inc(r.cost);
      else b.unpriced!.inc();
    }
    if (rec.usage === 'estimated') b.estimated.inc();
    if (rec.promptTokens !== null) {
      b.promptTokens.observe(rec.promptTokens);
      b.prompt.inc(rec.promptTokens);
    }
    if (rec.completionTokens !== null) {
      b.completionTokens.observe(rec.completionTokens);
      // Counted live: one per token event. The rest of the reported usage now (an event may carry several
      // tokens); a counter cannot go down, so a usage below the events counted leaves the events' count.
      const rest = rec.completionTokens - rec.liveCompletionTokens;
      if (rest > 0) b.completion.inc(rest);
    }
    if (rec.cachedTokens) b.cached.inc(rec.cachedTokens);
    if (rec.reasoningTokens) b.reasoning.inc(rec.reasoningTokens);
  }

  return {
    /** The registries a cluster worker reports to the primary. */
    registers: [register, fastRegister],
    contentType: register.contentType,
    /** The whole text exposition of this process, in pieces to concatenate; the per-request metrics are
     * rendered in slices, letting the event loop turn between them (see renderExposition). */
    exposition: async (): Promise<string[]> => [`${await register.metrics()}\n`, ...(await renderExposition(fast))],
    /** The same metrics in the OpenMetrics 1.0 format, with the exemplars (see docs/metrics.md), ending in `# EOF`. */
    openMetrics: async (): Promise<string[]> => {
      const own = await promClientOpenMetrics(register);
      return [...(own.trim() === '' ? [] : [own]), ...(await renderExposition(fast, true)), '# EOF\n'];
    },
    record,
    /** A client connection that never sent a request was closed. */
    connectionClosedIdle: () => idleClosed.inc(),
    /** tokentap_trace_spans_dropped_total, declared on first call (when tracing starts, src/trace/). */
    traceSpansDropped,
    /** The metric children of one (model, endpoint), bound once: pass them to `record` as well. */
    series,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
