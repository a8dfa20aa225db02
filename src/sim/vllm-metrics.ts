/**
 * vLLM's own Prometheus metrics, as vLLM v0.11.0 exports them on GET /metrics
 * (vllm/v1/metrics/loggers.py, PrometheusStatLogger): the same names, types,
 * help texts, label names (model_name, engine) and bucket boundaries, so the
 * dashboard and rules written for a real vLLM work against the simulator.
 *
 * Each simulator owns a Registry (never prom-client's global one): several
 * simulators run in one test process.
 *
 * Not exported because v0.11.0 hides them unless --show-hidden-metrics-for-version=0.10:
 * vllm:gpu_cache_usage_perc, vllm:gpu_prefix_cache_queries_total, vllm:gpu_prefix_cache_hits_total.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
// The same bucket lists tokentap's histograms default to (they are vLLM's): one copy for both.
import { E2E_BUCKETS, oneTwoFiveBuckets, TPOT_BUCKETS, TTFT_BUCKETS } from '../config/buckets.js';

/** vLLM v1 FinishReason values (str(reason)); every one is pre-created, as vLLM does. */
export const FINISH_REASONS = ['stop', 'length', 'abort'] as const;
export type EngineFinishReason = (typeof FINISH_REASONS)[number];

/** Live scheduler state the gauges read at scrape time. */
export interface SchedulerState {
  running(): number;
  waiting(): number;
  /** 0..1 */
  kvCacheUsage(): number;
}

/** What one finished request contributes (all times in performance.now() milliseconds). */
export interface FinishedTiming {
  arrival: number;
  scheduled: number;
  firstToken: number;
  lastToken: number;
  promptTokens: number;
  generationTokens: number;
  reason: EngineFinishReason;
}

const LABELS = ['model_name', 'engine'] as const;
type L = (typeof LABELS)[number];

/** Distinct model names with series of their own, and the longest such name (see labelsFor). */
export const MAX_MODEL_NAMES = 100;
export const MAX_MODEL_NAME_CHARS = 256;

export class VllmMetrics {
  readonly registry = new Registry();
  private readonly labels: Record<L, string>;
  private readonly promptTokens: Counter<L>;
  private readonly generationTokens: Counter<L>;
  private readonly prefixQueries: Counter<L>;
  private readonly prefixHits: Counter<L>;
  private readonly success: Counter<L | 'finished_reason'>;
  private readonly ttft: Histogram<L>;
  private readonly tpot: Histogram<L>;
  private readonly itl: Histogram<L>;
  private readonly e2e: Histogram<L>;
  private readonly queue: Histogram<L>;
  private readonly inference: Histogram<L>;
  private readonly prefill: Histogram<L>;
  private readonly decode: Histogram<L>;
  private readonly reqPrompt: Histogram<L>;
  private readonly reqGeneration: Histogram<L>;

  /** Label sets of the models requests have named, made once each (at most MAX_MODEL_NAMES). */
  private readonly byModel = new Map<string, Record<L, string>>();

  /**
   * `model` is the served model name: the engine-wide gauges carry it, and every series exists for it from
   * start-up, as in vLLM. vLLM serves one name and answers 404 for others; the simulator serves any name a
   * request gives, so per-request series are labelled with that name (tokentap's `model` label then lines
   * up with `model_name`, and "time outside the engine" can be read per model, as with a real vLLM).
   */
  constructor(model: string, maxModelLen: number, state: SchedulerState) {
    const registers = [this.registry];
    const labelNames = LABELS;
    const labels = (this.labels = { model_name: model, engine: '0' });
    this.byModel.set(model, labels);
    const gauge = (name: string, help: string, read: () => number): void => {
      const g: Gauge<L> = new Gauge({ name, help, labelNames, registers, collect: () => g.set(labels, read()) });
    };
    const counter = (name: string, help: string): Counter<L> => {
      const c = new Counter({ name, help, labelNames, registers });
      c.inc(labels, 0); // vLLM binds its label set at start-up, so the series exists at 0
      return c;
    };
    const histogram = (name: string, help: string, buckets: number[]): Histogram<L> => {
      const h = new Histogram({ name, help, labelNames, buckets, registers });
      h.zero(labels);
      return h;
    };

    gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', () => state.running());
    gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', () => state.waiting());
    gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', () => state.kvCacheUsage());
    this.prefixQueries = counter('vllm:prefix_cache_queries_total', 'Prefix cache queries, in terms of number of queried tokens.');
    this.prefixHits = counter('vllm:prefix_cache_hits_total', 'Prefix cache hits, in terms of number of cached tokens.');
    counter('vllm:num_preemptions_total', 'Cumulative number of preemption from the engine.'); // the simulator never preempts
    this.promptTokens = counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.');
    this.generationTokens = counter('vllm:generation_tokens_total', 'Number of generation tokens processed.');
    this.success = new Counter({
      name: 'vllm:request_success_total',
      help: 'Count of successfully processed requests.',
      labelNames: [...LABELS, 'finished_reason'],
      registers,
    });
    for (const finished_reason of FINISH_REASONS) this.success.inc({ ...labels, finished_reason }, 0);

    const tokenBuckets = oneTwoFiveBuckets(maxModelLen);
    this.reqPrompt = histogram('vllm:request_prompt_tokens', 'Number of prefill tokens processed.', tokenBuckets);
    this.reqGeneration = histogram('vllm:request_generation_tokens', 'Number of generation tokens processed.', tokenBuckets);
    this.ttft = histogram('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', TTFT_BUCKETS);
    // v0.11.0 still exports the old name next to the new one, with the same observations.
    this.tpot = histogram(
      'vllm:time_per_output_token_seconds',
      'Histogram of time per output token in seconds.DEPRECATED: Use vllm:inter_token_latency_seconds instead.',
      TPOT_BUCKETS,
    );
    this.itl = histogram('vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', TPOT_BUCKETS);
    const lat = E2E_BUCKETS; // vLLM request_latency_buckets: the E2E, queue, inference, prefill and decode histograms
    this.e2e = histogram('vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', lat);
    this.queue = histogram('vllm:request_queue_time_seconds', 'Histogram of time spent in WAITING phase for request.', lat);
    this.inference = histogram('vllm:request_inference_time_seconds', 'Histogram of time spent in RUNNING phase for request.', lat);
    this.prefill = histogram('vllm:request_prefill_time_seconds', 'Histogram of time spent in PREFILL phase for request.', lat);
    this.decode = histogram('vllm:request_decode_time_seconds', 'Histogram of time spent in DECODE phase for request.', lat);
  }

  /** At scheduling, as vLLM's KV cache manager counts a prefix-cache lookup: queried = prompt, hit = cached. */
  scheduled(model: string, promptTokens: number, cachedTokens: number): void {
    const labels = this.labelsFor(model);
    this.prefixQueries.inc(labels, promptTokens);
    this.prefixHits.inc(labels, cachedTokens);
  }

  /** The first token: vLLM counts the prompt's tokens in the iteration that finishes prefill. */
  firstToken(model: string, ttftMs: number, promptTokens: number, tokens: number): void {
    const labels = this.labelsFor(model);
    this.ttft.observe(labels, ttftMs / 1000);
    this.promptTokens.inc(labels, promptTokens);
    this.generationTokens.inc(labels, tokens);
  }

  /** A later token-bearing step: one inter-token latency observation per step, as vLLM records per iteration. */
  nextToken(model: string, gapMs: number, tokens: number): void {
    const labels = this.labelsFor(model);
    this.itl.observe(labels, gapMs / 1000);
    this.tpot.observe(labels, gapMs / 1000);
    this.generationTokens.inc(labels, tokens);
  }

  finished(model: string, t: FinishedTiming): void {
    const labels = this.labelsFor(model);
    const s = (ms: number): number => Math.max(0, ms) / 1000;
    this.success.inc({ ...labels, finished_reason: t.reason });
    this.e2e.observe(labels, s(t.lastToken - t.arrival));
    this.queue.observe(labels, s(t.scheduled - t.arrival));
    this.inference.observe(labels, s(t.lastToken - t.scheduled));
    this.prefill.observe(labels, s(t.firstToken - t.scheduled));
    this.decode.observe(labels, s(t.lastToken - t.firstToken));
    this.reqPrompt.observe(labels, t.promptTokens);
    this.reqGeneration.observe(labels, t.generationTokens);
  }

  /** A name past MAX_MODEL_NAMES distinct ones, or longer than MAX_MODEL_NAME_CHARS, is counted under the served
   * model's name: the simulator serves any name, and its series must stay bounded whatever clients send. */
  private labelsFor(model: string): Record<L, string> {
    let labels = this.byModel.get(model);
    if (labels !== undefined) return labels;
    if (this.byModel.size >= MAX_MODEL_NAMES || model.length > MAX_MODEL_NAME_CHARS) return this.labels;
    this.byModel.set(model, (labels = { model_name: model, engine: '0' }));
    return labels;
  }
}
