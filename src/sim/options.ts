/**
 * Simulator options (server-wide defaults) and per-request overrides read from
 * `x-sim-*` request headers. The proxy forwards request headers unchanged, so a
 * test sets these on its client to shape one upstream response.
 */
import type { IncomingHttpHeaders } from 'node:http';

export const FAULT_NAMES = [
  'http-400',
  'http-429',
  'http-500',
  'http-503',
  'inband-error',
  'die',
  'stall',
  'no-headers',
  'weird-framing',
] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

/** Faults that answer with an HTTP error status before any body is streamed. */
export const HTTP_FAULT_STATUS: Partial<Record<FaultName, number>> = {
  'http-400': 400,
  'http-429': 429,
  'http-500': 500,
  'http-503': 503,
};

/** Faults the random picker (errorRate > 0) chooses from unless `faults` is given. */
export const DEFAULT_RANDOM_FAULTS: readonly FaultName[] = [
  'http-429',
  'http-500',
  'http-503',
  'inband-error',
  'die',
];

export type ReasoningField = 'reasoning_content' | 'reasoning';

/**
 * Whose streaming usage rules to follow. 'vllm': chunks carry no usage member (serialised with exclude_unset)
 * and `stream_options: {}` asks for usage (include_usage defaults to true). 'openai': with include_usage every
 * chunk ends with `"usage": null`, and only `include_usage: true` asks for usage. See streamFlags (http.ts).
 */
export const SIM_FLAVORS = ['vllm', 'openai'] as const;
export type SimFlavor = (typeof SIM_FLAVORS)[number];

export function isFlavor(s: string): s is SimFlavor {
  return (SIM_FLAVORS as readonly string[]).includes(s);
}

export interface SimOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Model listed by GET /v1/models and used when a request names none. Requests may name any model; it is echoed. */
  model?: string;
  /** Delay from receiving the request (body read) to the first token-bearing chunk. */
  ttftMs?: number;
  /** Gap between consecutive token-bearing chunks. */
  itlMs?: number;
  /** Natural output length (content tokens) when the request sets no max_tokens. */
  outputTokens?: number;
  tokensPerChunk?: number;
  /** Reasoning tokens emitted before the content (chat and responses only). */
  reasoningTokens?: number;
  reasoningField?: ReasoningField;
  /** Reported as prompt_tokens_details.cached_tokens (capped at prompt_tokens). */
  cachedTokens?: number;
  /** Probability (0..1) that a generation request gets a random fault. */
  errorRate?: number;
  /** Faults the random picker may choose. */
  faults?: FaultName[];
  /** Seed of the PRNG used by the random fault picker. */
  seed?: number;
  /** Reported by /v1/models and /tokenize. */
  maxModelLen?: number;
  /** Dimension of the deterministic embedding vectors. */
  embeddingDim?: number;
  /** Streaming usage rules: 'vllm' (default) or 'openai'. */
  flavor?: SimFlavor;
  /**
   * vLLM's --max-num-seqs: generation requests running at once; later ones wait (vllm:num_requests_waiting) and
   * their TTFT includes the wait. 0 (default) = unlimited, so the simulator only queues when asked to.
   */
  maxNumSeqs?: number;
  /** KV cache capacity in tokens: vllm:kv_cache_usage_perc = (prompt + generated tokens of running requests) / this. */
  kvCacheTokens?: number;
}

export type ResolvedSimOptions = Required<SimOptions>;

export const SIM_DEFAULTS: ResolvedSimOptions = {
  host: '127.0.0.1',
  port: 8000,
  model: 'Qwen/Qwen2.5-0.5B-Instruct',
  ttftMs: 50,
  itlMs: 10,
  outputTokens: 16,
  tokensPerChunk: 1,
  reasoningTokens: 0,
  reasoningField: 'reasoning_content',
  cachedTokens: 0,
  errorRate: 0,
  faults: [...DEFAULT_RANDOM_FAULTS],
  seed: 42,
  maxModelLen: 32768,
  embeddingDim: 8,
  flavor: 'vllm',
  maxNumSeqs: 0,
  // 16384 blocks of 16 tokens: the order of a 7B model's KV cache on a 24 GB GPU.
  kvCacheTokens: 262144,
};

function checkInt(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`sim option ${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

function checkNum(name: string, v: number, min: number, max = Infinity): number {
  if (!Number.isFinite(v) || v < min || v > max) throw new RangeError(`sim option ${name} must be a number in [${min}, ${max}], got ${v}`);
  return v;
}

export function isFaultName(s: string): s is FaultName {
  return (FAULT_NAMES as readonly string[]).includes(s);
}

/** Fill defaults and validate. Throws RangeError on an invalid value. */
export function resolveSimOptions(opts: SimOptions = {}): ResolvedSimOptions {
  const o: ResolvedSimOptions = { ...SIM_DEFAULTS };
  for (const [k, v] of Object.entries(opts)) {
    if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
  }
  checkInt('port', o.port, 0);
  checkNum('ttftMs', o.ttftMs, 0);
  checkNum('itlMs', o.itlMs, 0);
  checkInt('outputTokens', o.outputTokens, 0);
  checkInt('tokensPerChunk', o.tokensPerChunk, 1);
  checkInt('reasoningTokens', o.reasoningTokens, 0);
  checkInt('cachedTokens', o.cachedTokens, 0);
  checkNum('errorRate', o.errorRate, 0, 1);
  checkInt('maxModelLen', o.maxModelLen, 1);
  checkInt('embeddingDim', o.embeddingDim, 1);
  checkInt('maxNumSeqs', o.maxNumSeqs, 0);
  checkInt('kvCacheTokens', o.kvCacheTokens, 1);
  if (!Number.isFinite(o.seed)) throw new RangeError(`sim option seed must be a finite number`);
  if (o.reasoningField !== 'reasoning_content' && o.reasoningField !== 'reasoning') {
    throw new RangeError(`sim option reasoningField must be 'reasoning_content' or 'reasoning'`);
  }
  if (!isFlavor(o.flavor)) throw new RangeError(`sim option flavor must be one of ${SIM_FLAVORS.join(', ')}`);
  if (!Array.isArray(o.faults) || o.faults.some((f) => !isFaultName(f))) {
    throw new RangeError(`sim option faults must list fault names (${FAULT_NAMES.join(', ')})`);
  }
  o.faults = [...o.faults];
  return o;
}

/** Per-request settings: options overlaid with the request's `x-sim-*` headers. */
export interface RequestOverrides {
  ttftMs: number;
  itlMs: number;
  /** x-sim-output-tokens; undefined when the header is absent. */
  outputTokens: number | undefined;
  tokensPerChunk: number;
  reasoningTokens: number;
  cachedTokens: number;
  /** x-sim-tool-call: 1 */
  toolCall: boolean;
  /** x-sim-fault (or the random picker's choice, filled in by the server). */
  fault: FaultName | undefined;
  /** x-sim-fault-after: token-bearing chunks sent before a stream fault fires. */
  faultAfter: number;
  /** x-sim-flavor, else the configured flavor. */
  flavor: SimFlavor;
}

export const SIM_HEADERS = {
  ttftMs: 'x-sim-ttft-ms',
  itlMs: 'x-sim-itl-ms',
  outputTokens: 'x-sim-output-tokens',
  tokensPerChunk: 'x-sim-tokens-per-chunk',
  reasoningTokens: 'x-sim-reasoning-tokens',
  cachedTokens: 'x-sim-cached-tokens',
  toolCall: 'x-sim-tool-call',
  fault: 'x-sim-fault',
  faultAfter: 'x-sim-fault-after',
  flavor: 'x-sim-flavor',
} as const;

export const DEFAULT_FAULT_AFTER = 2;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v[0] : v)?.trim();
}

/** Thrown for a malformed x-sim-* header; the server answers 400. */
export class OverrideError extends Error {
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
  }
}

function numHeader(headers: IncomingHttpHeaders, name: string, min: number, integer: boolean): number | undefined {
  const raw = header(headers, name);
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new OverrideError(`invalid ${name} header: expected ${integer ? 'an integer' : 'a number'} >= ${min}`, name);
  }
  return n;
}

export function readOverrides(headers: IncomingHttpHeaders, opts: ResolvedSimOptions): RequestOverrides {
  const h = SIM_HEADERS;
  const faultRaw = header(headers, h.fault);
  let fault: FaultName | undefined;
  if (faultRaw !== undefined && faultRaw !== '' && faultRaw !== 'none') {
    if (!isFaultName(faultRaw)) {
      throw new OverrideError(`invalid ${h.fault} header: expected one of ${FAULT_NAMES.join(', ')}`, h.fault);
    }
    fault = faultRaw;
  }
  const tool = header(headers, h.toolCall);
  const flavor = header(headers, h.flavor);
  if (flavor !== undefined && flavor !== '' && !isFlavor(flavor)) {
    throw new OverrideError(`invalid ${h.flavor} header: expected one of ${SIM_FLAVORS.join(', ')}`, h.flavor);
  }
  return {
    ttftMs: numHeader(headers, h.ttftMs, 0, false) ?? opts.ttftMs,
    itlMs: numHeader(headers, h.itlMs, 0, false) ?? opts.itlMs,
    outputTokens: numHeader(headers, h.outputTokens, 0, true),
    tokensPerChunk: numHeader(headers, h.tokensPerChunk, 1, true) ?? opts.tokensPerChunk,
    reasoningTokens: numHeader(headers, h.reasoningTokens, 0, true) ?? opts.reasoningTokens,
    cachedTokens: numHeader(headers, h.cachedTokens, 0, true) ?? opts.cachedTokens,
    toolCall: tool === '1' || tool === 'true',
    fault,
    faultAfter: numHeader(headers, h.faultAfter, 0, true) ?? DEFAULT_FAULT_AFTER,
    flavor: flavor === undefined || flavor === '' ? opts.flavor : flavor,
  };
}

/** Small seeded PRNG (mulberry32) returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
