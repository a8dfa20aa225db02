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
  /** Why fewer requests were joined than tokentap answered (see proxy-log.ts joinWarning), or null. */
  warning: string | null;
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
  /** Why there is no proxy side (none found, not the target's, a scrape failed), or null. */
  proxyError: string | null;
  /** What the reader must know about the figures: a join that came up short, a tokentap passed over, … */
  warnings: string[];
  join: JoinSummary | null;
}
