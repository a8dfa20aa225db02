/** Shared shapes of the bench: one request's client-side record. */

export type BenchEndpoint = 'chat' | 'completions' | 'responses';

/** Client-side measurements for one request. Times in milliseconds; null where not applicable. */
export interface RequestRecord {
  /** 0-based position in the measured run (warm-up requests are not recorded). */
  index: number;
  /** The `x-request-id` the bench sent. */
  requestId: string;
  /** The `x-request-id` the server answered with (a tokentap echoes the one sent). */
  responseRequestId: string | null;
  /** t0, relative to the start of the measured run. */
  startMs: number;
  status: number | null;
  ok: boolean;
  /** Error category for the breakdown (`HTTP 500`, `ECONNREFUSED`, `timeout`, `stream_error`, …). */
  error: string | null;
  errorMessage: string | null;
  stream: boolean;
  /** First token event − t0 (streaming only). */
  ttftMs: number | null;
  /** First content/text/tool-call event − t0 (streaming only). */
  ttfcMs: number | null;
  /** (last token event − first token event) / (completion_tokens − 1), completion_tokens >= 2. */
  tpotMs: number | null;
  /** Last byte − t0. */
  e2eMs: number | null;
  /** Gaps between consecutive token events. */
  itlMs: number[];
  promptTokens: number | null;
  completionTokens: number | null;
  /** `reported` when the server sent usage, `estimated` when completion tokens were counted from events. */
  usage: 'reported' | 'estimated' | null;
  /** Number of token events seen. */
  tokenEvents: number;
  /** Number of SSE events seen (any kind, including `[DONE]`). */
  sseEvents: number;
  requestedPromptTokens: number;
  requestedMaxTokens: number;
}
