/** Turns what the meters observed into the per-request record (the definitions in docs/metrics.md). Pure. */
import type { StreamFacts } from './stream-meter.js';
import type { Usage } from './usage.js';

export interface MeterRecord {
  /** First token event − t0 (streaming only). */
  ttftMs: number | null;
  /** First content-bearing event − t0 (streaming only). */
  ttfcMs: number | null;
  /** (last token event − first token event) / (completion_tokens − 1), when completion_tokens >= 2. */
  tpotMs: number | null;
  /** Completion tokens already counted while the stream ran (one per token event, when tokens count). */
  liveCompletionTokens: number;
  /** Last byte sent to the client − t0. */
  e2eMs: number;
  promptTokens: number | null;
  completionTokens: number | null;
  cachedTokens: number | null;
  reasoningTokens: number | null;
  /** Where the token counts come from; null when the request is not metered for tokens. */
  usage: 'reported' | 'estimated' | null;
}

export interface RecordInput {
  t0: number;
  endAt: number;
  /** Count tokens (metered endpoint and a 2xx response). */
  countTokens: boolean;
  /** Embeddings have prompt tokens only. */
  promptOnly?: boolean;
  stream: StreamFacts | null;
  /** Usage from a non-streaming JSON body. */
  bodyUsage: Usage | null;
}

export function buildRecord({ t0, endAt, countTokens, promptOnly = false, stream, bodyUsage }: RecordInput): MeterRecord {
  const rec: MeterRecord = {
    ttftMs: null,
    ttfcMs: null,
    tpotMs: null,
    liveCompletionTokens: 0,
    e2eMs: endAt - t0,
    promptTokens: null,
    completionTokens: null,
    cachedTokens: null,
    reasoningTokens: null,
    usage: null,
  };
  if (stream) {
    if (stream.firstTokenAt !== null) rec.ttftMs = stream.firstTokenAt - t0;
    if (stream.firstContentAt !== null) rec.ttfcMs = stream.firstContentAt - t0;
  }
  if (!countTokens) return rec;
  if (stream) rec.liveCompletionTokens = stream.tokenEvents;

  const usage = stream ? stream.usage : bodyUsage;
  if (usage && (usage.completion !== null || (promptOnly && usage.prompt !== null))) {
    rec.usage = 'reported';
    rec.promptTokens = usage.prompt;
    rec.completionTokens = promptOnly ? null : usage.completion;
    rec.cachedTokens = usage.cached;
    rec.reasoningTokens = promptOnly ? null : usage.reasoning;
  } else {
    rec.usage = 'estimated';
    rec.promptTokens = usage?.prompt ?? null;
    rec.completionTokens = promptOnly ? null : (stream?.tokenEvents ?? 0);
  }

  const n = rec.completionTokens;
  if (stream && n !== null && n >= 2 && stream.firstTokenAt !== null && stream.lastTokenAt !== null) {
    rec.tpotMs = (stream.lastTokenAt - stream.firstTokenAt) / (n - 1);
  }
  return rec;
}
