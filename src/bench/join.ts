/**
 * Client-side records joined with tokentap's access log by `x-request-id`. Pure.
 * For each request found on both sides: client − proxy for TTFT and E2E, i.e. the cost of the
 * network between client and proxy plus the client's own overhead.
 */
import { summarize, type Summary } from './stats.js';
import type { RequestRecord } from './types.js';

/** The fields of a tokentap access-log line the bench uses. */
export interface AccessLogEntry {
  request_id: string;
  status: number | null;
  outcome: string | null;
  ttft_ms: number | null;
  ttfc_ms: number | null;
  tpot_ms: number | null;
  e2e_ms: number | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  cached_tokens?: number | null;
  reasoning_tokens?: number | null;
  [k: string]: unknown;
}

/** Parses JSON lines; lines that are not JSON objects with a string `request_id` are skipped. */
export function parseAccessLog(text: string): AccessLogEntry[] {
  const out: AccessLogEntry[] = [];
  for (const line of text.split('\n')) {
    const s = line.trim();
    if (!s.startsWith('{')) continue;
    try {
      const o = JSON.parse(s) as Record<string, unknown>;
      if (typeof o.request_id === 'string') out.push(o as AccessLogEntry);
    } catch {
      /* not a log line */
    }
  }
  return out;
}

export interface JoinedPair {
  requestId: string;
  ttftDiffMs: number | null;
  e2eDiffMs: number | null;
}

export interface JoinResult {
  /** Client records with a matching log line. */
  matched: number;
  /** Client records without one. */
  unmatchedClient: number;
  ttftDiffMs: Summary;
  e2eDiffMs: Summary;
  pairs: JoinedPair[];
}

const diff = (a: number | null, b: number | null | undefined): number | null =>
  typeof a === 'number' && typeof b === 'number' && Number.isFinite(a) && Number.isFinite(b) ? a - b : null;

/**
 * Joins by request id (the id the bench sent; the log's `request_id`). When a log holds the
 * same id twice the last line wins. Unrelated log lines (other clients) are ignored.
 */
export function joinByRequestId(records: readonly RequestRecord[], log: readonly AccessLogEntry[]): JoinResult {
  const byId = new Map<string, AccessLogEntry>();
  for (const e of log) byId.set(e.request_id, e);
  const pairs: JoinedPair[] = [];
  let unmatched = 0;
  for (const r of records) {
    const e = byId.get(r.requestId);
    if (!e) {
      unmatched++;
      continue;
    }
    pairs.push({ requestId: r.requestId, ttftDiffMs: diff(r.ttftMs, e.ttft_ms), e2eDiffMs: diff(r.e2eMs, e.e2e_ms) });
  }
  return {
    matched: pairs.length,
    unmatchedClient: unmatched,
    ttftDiffMs: summarize(pairs.map((p) => p.ttftDiffMs)),
    e2eDiffMs: summarize(pairs.map((p) => p.e2eDiffMs)),
    pairs,
  };
}
