/**
 * Prometheus text exposition: a tiny parser, before/after deltas, and histogram quantiles
 * by linear interpolation within buckets (as PromQL's `histogram_quantile`). Pure, except `scrape`.
 */
import { requestFailed } from './net-errors.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export type Labels = Record<string, string>;

function parseValue(s: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  return Number(s);
}

function parseLabels(s: string, line: string): Labels {
  const labels: Labels = {};
  let i = 0;
  while (i < s.length) {
    while (s[i] === ' ' || s[i] === ',') i++;
    if (i >= s.length) break;
    const eq = s.indexOf('=', i);
    if (eq < 0 || s[eq + 1] !== '"') throw new Error(`bad labels in: ${line}`);
    const key = s.slice(i, eq).trim();
    let j = eq + 2;
    let val = '';
    while (j < s.length && s[j] !== '"') {
      if (s[j] === '\\' && j + 1 < s.length) {
        const c = s[j + 1];
        val += c === 'n' ? '\n' : c;
        j += 2;
      } else {
        val += s[j++];
      }
    }
    if (j >= s.length) throw new Error(`unterminated label value in: ${line}`);
    labels[key] = val;
    i = j + 1;
  }
  return labels;
}

/** Parses `name{labels} value [timestamp]` lines; comments and blank lines are skipped. */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    let name: string;
    let labels: Labels = {};
    let rest: string;
    const brace = line.indexOf('{');
    const space = line.search(/\s/);
    if (brace >= 0 && (space < 0 || brace < space)) {
      name = line.slice(0, brace);
      // find the closing brace outside quotes
      let j = brace + 1;
      let inQ = false;
      for (; j < line.length; j++) {
        const c = line[j];
        if (inQ && c === '\\') j++;
        else if (c === '"') inQ = !inQ;
        else if (c === '}' && !inQ) break;
      }
      labels = parseLabels(line.slice(brace + 1, j), line);
      rest = line.slice(j + 1).trim();
    } else {
      name = line.slice(0, space);
      rest = line.slice(space + 1).trim();
    }
    const value = parseValue(rest.split(/\s+/)[0]);
    out.push({ name, labels, value });
  }
  return out;
}

export type LabelFilter = (labels: Labels) => boolean;

/** Sum of the values of `name` over the series that pass the filter. */
export function sumSeries(samples: readonly Sample[], name: string, filter: LabelFilter = () => true): number {
  let s = 0;
  for (const x of samples) if (x.name === name && filter(x.labels)) s += x.value;
  return s;
}

/** Sum over matching series, grouped by the value of one label. */
export function sumBy(samples: readonly Sample[], name: string, by: string, filter: LabelFilter = () => true): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of samples) {
    if (x.name !== name || !filter(x.labels)) continue;
    const k = x.labels[by] ?? '';
    m.set(k, (m.get(k) ?? 0) + x.value);
  }
  return m;
}

/** Cumulative bucket counts by upper bound (`le`), summed over matching series, ascending. */
export interface Histogram {
  buckets: { le: number; count: number }[];
  sum: number;
  count: number;
}

export function readHistogram(samples: readonly Sample[], name: string, filter: LabelFilter = () => true): Histogram {
  const byLe = new Map<number, number>();
  for (const x of samples) {
    if (x.name !== `${name}_bucket` || !filter(x.labels)) continue;
    const le = parseValue(x.labels.le ?? '+Inf');
    byLe.set(le, (byLe.get(le) ?? 0) + x.value);
  }
  const buckets = [...byLe.entries()].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
  return { buckets, sum: sumSeries(samples, `${name}_sum`, filter), count: sumSeries(samples, `${name}_count`, filter) };
}

/** after − before, bucket by bucket (a bucket missing before counts as 0). */
export function histogramDelta(before: Histogram, after: Histogram): Histogram {
  const prev = new Map(before.buckets.map((b) => [b.le, b.count]));
  return {
    buckets: after.buckets.map((b) => ({ le: b.le, count: Math.max(0, b.count - (prev.get(b.le) ?? 0)) })),
    sum: after.sum - before.sum,
    count: Math.max(0, after.count - before.count),
  };
}

/** Where a quantile lies: the interpolated value and the bucket it was interpolated in. */
export interface QuantileInBucket {
  value: number;
  /** The bucket's lower bound (the previous `le`, or 0). */
  lower: number;
  /** Its `le`; null for the +Inf bucket (then `value` is `lower`, the largest finite bound). */
  upper: number | null;
}

/**
 * Quantile q in [0, 1] from cumulative buckets, as Prometheus' `histogram_quantile`:
 * rank = q × total; find the first bucket whose cumulative count >= rank; interpolate
 * linearly between its lower bound (the previous `le`, or 0) and its `le`. When the rank
 * falls in the +Inf bucket, the largest finite `le` is returned. Null when empty.
 */
export function histogramQuantile(h: Histogram, q: number): number | null {
  return histogramQuantileInBucket(h, q)?.value ?? null;
}

/** histogramQuantile with the bucket the value was interpolated in (how far off it can be). */
export function histogramQuantileInBucket(h: Histogram, q: number): QuantileInBucket | null {
  const b = h.buckets;
  if (b.length === 0) return null;
  const total = b[b.length - 1].le === Infinity ? b[b.length - 1].count : h.count;
  if (!(total > 0)) return null;
  const rank = q * total;
  const lastFinite = (): QuantileInBucket | null => {
    const i = b.length - 1;
    if (b[i].le !== Infinity) return { value: b[i].le, lower: i > 0 ? b[i - 1].le : 0, upper: b[i].le };
    return i > 0 ? { value: b[i - 1].le, lower: b[i - 1].le, upper: null } : null;
  };
  for (let i = 0; i < b.length; i++) {
    if (b[i].count < rank) continue;
    if (b[i].le === Infinity) return lastFinite();
    const lower = i > 0 ? b[i - 1].le : 0;
    const prevCount = i > 0 ? b[i - 1].count : 0;
    if (i === 0 && b[0].le <= 0) return { value: b[0].le, lower: b[0].le, upper: b[0].le };
    const inBucket = b[i].count - prevCount;
    if (inBucket <= 0) return { value: b[i].le, lower, upper: b[i].le };
    return { value: lower + (b[i].le - lower) * ((rank - prevCount) / inBucket), lower, upper: b[i].le };
  }
  return lastFinite();
}

/** An HTTP status that is not 2xx, from a scrape; `status` lets callers say what to do (401: a token). */
export class ScrapeError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
  }
}

/**
 * Fetches and parses a /metrics page, with `Authorization: Bearer <token>` when a token is given.
 * Throws ScrapeError naming the URL and the cause (HTTP status, or the network error in words).
 */
export async function scrape(url: string, timeoutMs = 5000, token?: string): Promise<Sample[]> {
  let res: Response;
  try {
    res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new ScrapeError(requestFailed('GET', url, e, timeoutMs), null);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    const hint =
      res.status === 401 || res.status === 403
        ? token
          ? ': the --metrics-token was refused'
          : ': this /metrics is protected, give its token with --metrics-token (or $TOKENTAP_METRICS_TOKEN)'
        : '';
    throw new ScrapeError(`GET ${url}: HTTP ${res.status}${hint}`, res.status);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (e) {
    throw new ScrapeError(requestFailed('GET', url, e, timeoutMs), res.status);
  }
  try {
    return parseExposition(text);
  } catch (e) {
    throw new ScrapeError(`GET ${url}: not a Prometheus exposition (${(e as Error).message.slice(0, 120)})`, res.status);
  }
}
