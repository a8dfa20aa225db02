import { describe, expect, it } from 'vitest';
import { median, percentile, percentileSorted, summarize } from '../../src/bench/stats.js';

// Expected values are numpy.percentile(x, q) with its default method ("linear").
describe('percentile (linear interpolation between closest ranks, numpy default)', () => {
  it('matches numpy on [1, 2, 3, 4]', () => {
    const x = [1, 2, 3, 4];
    expect(percentile(x, 0.5)).toBeCloseTo(2.5, 12);
    expect(percentile(x, 0.9)).toBeCloseTo(3.7, 12);
    expect(percentile(x, 0.95)).toBeCloseTo(3.85, 12);
    expect(percentile(x, 0.99)).toBeCloseTo(3.97, 12);
  });

  it('matches numpy on [15, 20, 35, 40, 50]', () => {
    const x = [15, 20, 35, 40, 50];
    expect(percentile(x, 0.4)).toBeCloseTo(29, 12);
    expect(percentile(x, 0.5)).toBe(35);
    expect(percentile(x, 0.9)).toBeCloseTo(46, 12);
    expect(percentile(x, 0.95)).toBeCloseTo(48, 12);
    expect(percentile(x, 0.99)).toBeCloseTo(49.6, 12);
  });

  it('matches numpy on 1..100 and on an unsorted array', () => {
    const x = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(x, 0.5)).toBeCloseTo(50.5, 12);
    expect(percentile(x, 0.9)).toBeCloseTo(90.1, 12);
    expect(percentile(x, 0.95)).toBeCloseTo(95.05, 12);
    expect(percentile(x, 0.99)).toBeCloseTo(99.01, 12);
    const y = [3.5, 1.25, 9, 7, 2];
    expect(percentile(y, 0.5)).toBe(3.5);
    expect(percentile(y, 0.9)).toBeCloseTo(8.2, 12);
    expect(percentile(y, 0.99)).toBeCloseTo(8.92, 12);
    expect(y).toEqual([3.5, 1.25, 9, 7, 2]); // input not mutated
  });

  it('handles the edges', () => {
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentileSorted([1, 2], 0)).toBe(1);
    expect(percentileSorted([1, 2], 1)).toBe(2);
    expect(() => percentile([1], 1.5)).toThrow(RangeError);
    expect(median([5, 1, 3])).toBe(3);
  });
});

describe('summarize', () => {
  it('gives count, mean, min, quantiles and max, ignoring null and non-finite values', () => {
    const s = summarize([4, null, 1, 3, undefined, 2, NaN]);
    expect(s).toMatchObject({ count: 4, mean: 2.5, min: 1, p50: 2.5, max: 4 });
    expect(s.p90).toBeCloseTo(3.7, 12);
    expect(s.p95).toBeCloseTo(3.85, 12);
    expect(s.p99).toBeCloseTo(3.97, 12);
  });

  it('is empty-safe', () => {
    expect(summarize([])).toEqual({ count: 0, mean: null, min: null, p50: null, p90: null, p95: null, p99: null, max: null });
  });
});
