import { describe, expect, it } from 'vitest';
import {
  createRng,
  exponential,
  formatDistribution,
  parseDistribution,
  sample,
} from '../../src/bench/distributions.js';

const stats = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
  return { mean, sd, min: Math.min(...xs), max: Math.max(...xs) };
};

describe('parseDistribution', () => {
  it('parses fixed, uniform and normal', () => {
    expect(parseDistribution('128')).toEqual({ kind: 'fixed', value: 128 });
    expect(parseDistribution('fixed:64')).toEqual({ kind: 'fixed', value: 64 });
    expect(parseDistribution('uniform:10:20')).toEqual({ kind: 'uniform', min: 10, max: 20 });
    expect(parseDistribution('UNIFORM:5:5')).toEqual({ kind: 'uniform', min: 5, max: 5 });
    expect(parseDistribution('normal:200:50')).toEqual({ kind: 'normal', mean: 200, stddev: 50 });
    expect(formatDistribution(parseDistribution(' normal:200:50 '))).toBe('normal:200:50');
    expect(formatDistribution(parseDistribution('uniform:1:9'))).toBe('uniform:1:9');
    expect(formatDistribution(parseDistribution('7'))).toBe('7');
  });

  it('rejects malformed specs', () => {
    for (const bad of ['', 'abc', '-1', 'uniform:5', 'uniform:9:1', 'uniform:a:b', 'normal:1', 'normal:10:-1', 'poisson:3', 'uniform:1:2:3']) {
      expect(() => parseDistribution(bad), bad).toThrow();
    }
  });
});

describe('seeded sampling', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const xa = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(xa);
    for (const v of xa) expect(v >= 0 && v < 1).toBe(true);
  });

  it('fixed returns the value', () => {
    const rng = createRng(1);
    expect(sample({ kind: 'fixed', value: 33 }, rng)).toBe(33);
  });

  it('uniform:a:b covers a..b inclusive with mean (a+b)/2', () => {
    const rng = createRng(7);
    const d = parseDistribution('uniform:10:20');
    const xs = Array.from({ length: 20_000 }, () => sample(d, rng));
    const s = stats(xs);
    expect(s.min).toBe(10);
    expect(s.max).toBe(20);
    expect(xs.every(Number.isInteger)).toBe(true);
    expect(s.mean).toBeGreaterThan(14.9);
    expect(s.mean).toBeLessThan(15.1);
    // discrete uniform on 11 values: sd = sqrt((11^2 - 1) / 12) ≈ 3.162
    expect(s.sd).toBeGreaterThan(3.1);
    expect(s.sd).toBeLessThan(3.22);
  });

  it('normal:mu:sigma has the right mean and spread, rounded and >= 1', () => {
    const rng = createRng(11);
    const d = parseDistribution('normal:200:50');
    const xs = Array.from({ length: 20_000 }, () => sample(d, rng));
    const s = stats(xs);
    expect(Math.abs(s.mean - 200)).toBeLessThan(1.5);
    expect(Math.abs(s.sd - 50)).toBeLessThan(1.5);
    expect(xs.every((x) => Number.isInteger(x) && x >= 1)).toBe(true);
    const tight = Array.from({ length: 2000 }, () => sample(parseDistribution('normal:1:5'), rng));
    expect(Math.min(...tight)).toBe(1);
  });

  it('exponential inter-arrival times have mean 1/rate', () => {
    const rng = createRng(3);
    const xs = Array.from({ length: 20_000 }, () => exponential(rng, 4));
    const s = stats(xs);
    expect(Math.abs(s.mean - 0.25)).toBeLessThan(0.01);
    expect(Math.abs(s.sd - 0.25)).toBeLessThan(0.01);
  });
});
