/** The shape of a bench run's summary (what `--json` writes next to the per-request records). */
import type { ProxySide } from './proxy-side.js';
import type { Summary } from './stats.js';

export interface ClientFigures {
  ttftMs: Summary;
  ttfcMs: Summary;
  itlMs: Summary;
  tpotMs: Summary;
  e2eMs: Summary;
  promptTokens: Summary;
  completionTokens: Summary;
}

export interface JoinSummary {
  file: string;
  matched: number;
  unmatchedClient: number;
  /** client − proxy, ms. */
  ttftDiffMs: Summary;
  e2eDiffMs: Summary;
}

export interface BenchSummary {
  requests: number;
  ok: number;
  errors: number;
  errorRate: number;
  errorBreakdown: Record<string, number>;
  durationS: number;
  requestThroughput: number;
  outputTokenThroughput: number;
  totalTokenThroughput: number;
  totalPromptTokens: number;
  totalCompletionTokens: number;
  usage: { reported: number; estimated: number };
  client: ClientFigures;
  proxy: ProxySide | null;
  proxyError: string | null;
  join: JoinSummary | null;
}
