/**
 * Summary statistics for the bench. Pure.
 *
 * Percentile method: linear interpolation between closest ranks — numpy's default
 * (`method="linear"`, Hyndman & Fan type 7): for sorted x[0..n-1] and q in [0, 1],
 * h = (n - 1) * q, result = x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)]).
 */

export interface Summary {
  count: number;
  mean: number | null;
  min: number | null;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export const EMPTY_SUMMARY: Summary = Object.freeze({
  count: 0,
  mean: null,
  min: null,
  p50: null,
  p90: null,
  p95: null,
  p99: null,
  max: null,
}) as Summary;

/** Percentile of an ascending-sorted array, q in [0, 1]. Null for an empty array. */
export function percentileSorted(sorted: ArrayLike<number>, q: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${q}`);
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  const frac = h - lo;
  const a = sorted[lo];
  const b = sorted[hi];
  return frac === 0 ? a : a + frac * (b - a);
}

/** Percentile of an unsorted array (copied and sorted), q in [0, 1]. */
export function percentile(values: readonly number[], q: number): number | null {
  return percentileSorted(sortNumbers(values), q);
}

export function sortNumbers(values: readonly number[]): Float64Array {
  const a = Float64Array.from(values);
  a.sort();
  return a;
}

/** Count, mean, min, p50/p90/p95/p99, max. Non-finite values are ignored. */
export function summarize(values: readonly (number | null | undefined)[]): Summary {
  const finite: number[] = [];
  for (const v of values) if (typeof v === 'number' && Number.isFinite(v)) finite.push(v);
  if (finite.length === 0) return { ...EMPTY_SUMMARY };
  const s = sortNumbers(finite);
  let sum = 0;
  for (const v of s) sum += v;
  return {
    count: s.length,
    mean: sum / s.length,
    min: s[0],
    p50: percentileSorted(s, 0.5),
    p90: percentileSorted(s, 0.9),
    p95: percentileSorted(s, 0.95),
    p99: percentileSorted(s, 0.99),
    max: s[s.length - 1],
  };
}

/** Median of a (possibly unsorted) array; null when empty. */
export function median(values: readonly number[]): number | null {
  return percentile(values, 0.5);
}
