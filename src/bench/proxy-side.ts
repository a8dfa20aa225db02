/**
 * The proxy-side view of a bench run: tokentap's /metrics scraped before and after,
 * turned into the same figures as the client side. Quantiles come from the bucket deltas
 * (linear interpolation inside a bucket, as `histogram_quantile`); means are exact
 * (_sum/_count deltas); there is no max on this side.
 */
import {
  histogramDelta,
  histogramQuantile,
  readHistogram,
  scrape,
  sumBy,
  type Labels,
  type Sample,
} from './prom-scrape.js';
import type { BenchEndpoint } from './types.js';

export interface ProxySummary {
  count: number;
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
}

export interface ProxySide {
  metricsUrl: string;
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
  /** `tokentap_tokens_total` deltas by `type`. */
  tokens: Record<string, number>;
}

export const ENDPOINT_LABEL: Record<BenchEndpoint, string> = {
  chat: 'chat_completions',
  completions: 'completions',
  responses: 'responses',
};

function histSummary(before: Sample[], after: Sample[], name: string, filter: (l: Labels) => boolean, scale: number): ProxySummary {
  const d = histogramDelta(readHistogram(before, name, filter), readHistogram(after, name, filter));
  const q = (p: number): number | null => {
    const v = histogramQuantile(d, p);
    return v === null ? null : v * scale;
  };
  return {
    count: d.count,
    mean: d.count > 0 ? (d.sum / d.count) * scale : null,
    p50: q(0.5),
    p90: q(0.9),
    p95: q(0.95),
    p99: q(0.99),
  };
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

/** True when a scrape looks like tokentap's. */
export function isTokentapExposition(samples: readonly Sample[]): boolean {
  return samples.some((s) => s.name.startsWith('tokentap_'));
}

/**
 * Looks for tokentap's metrics next to the target: `<origin>/metrics`, then the default
 * metrics port 9464 on the same host. Returns the URL that serves `tokentap_*` series, or null.
 */
export async function discoverMetricsUrl(target: string, timeoutMs = 1500): Promise<string | null> {
  let u: URL;
  try {
    u = new URL(target);
  } catch {
    return null;
  }
  const candidates = [`${u.origin}/metrics`, `${u.protocol}//${u.hostname}:9464/metrics`];
  for (const url of [...new Set(candidates)]) {
    try {
      if (isTokentapExposition(await scrape(url, timeoutMs))) return url;
    } catch {
      /* not there */
    }
  }
  return null;
}
