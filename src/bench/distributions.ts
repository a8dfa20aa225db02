/**
 * Workload distributions (`--prompt-tokens`, `--max-tokens`) and a seeded PRNG. Pure.
 *
 * Syntax: `N` (fixed), `uniform:a:b` (integers a..b inclusive), `normal:mu:sigma`
 * (rounded, clamped to >= 1).
 */
import { mulberry32 } from '../sim/options.js';

export type Distribution =
  | { kind: 'fixed'; value: number }
  | { kind: 'uniform'; min: number; max: number }
  | { kind: 'normal'; mean: number; stddev: number };

/** A function returning uniform floats in [0, 1). */
export type Rng = () => number;

const num = (s: string, what: string, spec: string): number => {
  const v = Number(s);
  if (s.trim() === '' || !Number.isFinite(v)) throw new Error(`invalid ${what} "${s}" in distribution "${spec}"`);
  return v;
};

/** Parses `N`, `fixed:N`, `uniform:a:b` or `normal:mu:sigma`. Throws on anything else. */
export function parseDistribution(spec: string): Distribution {
  const s = spec.trim();
  const parts = s.split(':');
  const kind = parts[0].toLowerCase();
  if (parts.length === 1 || (kind === 'fixed' && parts.length === 2)) {
    const value = num(parts.length === 1 ? parts[0] : parts[1], 'value', spec);
    if (value < 0) throw new Error(`distribution "${spec}": value must be >= 0`);
    return { kind: 'fixed', value: Math.round(value) };
  }
  if (kind === 'uniform' && parts.length === 3) {
    const min = num(parts[1], 'min', spec);
    const max = num(parts[2], 'max', spec);
    if (min < 0 || max < min) throw new Error(`distribution "${spec}": need 0 <= a <= b`);
    return { kind: 'uniform', min: Math.round(min), max: Math.round(max) };
  }
  if (kind === 'normal' && parts.length === 3) {
    const mean = num(parts[1], 'mu', spec);
    const stddev = num(parts[2], 'sigma', spec);
    if (mean < 0 || stddev < 0) throw new Error(`distribution "${spec}": need mu >= 0 and sigma >= 0`);
    return { kind: 'normal', mean, stddev };
  }
  throw new Error(`invalid distribution "${spec}": use N, uniform:a:b or normal:mu:sigma`);
}

export function formatDistribution(d: Distribution): string {
  switch (d.kind) {
    case 'fixed':
      return String(d.value);
    case 'uniform':
      return `uniform:${d.min}:${d.max}`;
    case 'normal':
      return `normal:${d.mean}:${d.stddev}`;
  }
}

/** mulberry32 (shared with the simulator): same seed, same sequence. */
export function createRng(seed: number): Rng {
  return mulberry32(seed);
}

/** Standard normal by Box–Muller. */
export function standardNormal(rng: Rng): number {
  let u = rng();
  while (u <= Number.EPSILON) u = rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Exponential with the given rate (mean 1/rate): Poisson-process inter-arrival times. */
export function exponential(rng: Rng, rate: number): number {
  return -Math.log(1 - rng()) / rate;
}

/** One integer sample. Fixed values are returned as is; uniform is inclusive; normal is rounded and >= 1. */
export function sample(d: Distribution, rng: Rng): number {
  switch (d.kind) {
    case 'fixed':
      return d.value;
    case 'uniform':
      return d.min + Math.floor(rng() * (d.max - d.min + 1));
    case 'normal':
      return Math.max(1, Math.round(d.mean + d.stddev * standardNormal(rng)));
  }
}
