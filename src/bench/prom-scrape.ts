/**
 * Prometheus text exposition: a tiny parser, before/after deltas, and histogram quantiles
 * by linear interpolation within buckets (as PromQL's `histogram_quantile`). Pure.
 */

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

/**
 * Quantile q in [0, 1] from cumulative buckets, as Prometheus' `histogram_quantile`:
 * rank = q × total; find the first bucket whose cumulative count >= rank; interpolate
 * linearly between its lower bound (the previous `le`, or 0) and its `le`. When the rank
 * falls in the +Inf bucket, the largest finite `le` is returned. Null when empty.
 */
export function histogramQuantile(h: Histogram, q: number): number | null {
  const b = h.buckets;
  if (b.length === 0) return null;
  const total = b[b.length - 1].le === Infinity ? b[b.length - 1].count : h.count;
  if (!(total > 0)) return null;
  const rank = q * total;
  for (let i = 0; i < b.length; i++) {
    if (b[i].count < rank) continue;
    if (b[i].le === Infinity) return i > 0 ? b[i - 1].le : null;
    const lower = i > 0 ? b[i - 1].le : 0;
    const prevCount = i > 0 ? b[i - 1].count : 0;
    if (i === 0 && b[0].le <= 0) return b[0].le;
    const inBucket = b[i].count - prevCount;
    if (inBucket <= 0) return b[i].le;
    return lower + (b[i].le - lower) * ((rank - prevCount) / inBucket);
  }
  return b[b.length - 1].le === Infinity && b.length > 1 ? b[b.length - 2].le : b[b.length - 1].le;
}

/** Fetches and parses a /metrics page. */
export async function scrape(url: string, timeoutMs = 5000): Promise<Sample[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return parseExposition(await res.text());
}
