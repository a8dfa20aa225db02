/**
 * Load shapes. Closed loop: `concurrency` workers, each sends its next request when the
 * previous one ends. Open loop: Poisson arrivals at `rate` req/s (exponential gaps from a
 * seeded RNG), optionally capped at `concurrency` in flight (an arrival then waits for a slot).
 * A closed loop may ramp up: worker k of N starts after k/N × rampUpMs.
 * Both stop launching at `requests` launched or after `durationMs`, whichever comes first,
 * and then wait for the requests in flight.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleepTimer } from 'node:timers/promises';
import { exponential, type Rng } from './distributions.js';

export interface LoadPlan {
  concurrency?: number;
  rate?: number;
  requests?: number;
  durationMs?: number;
  /** Closed loop: worker k of N starts after k/N × rampUpMs (staggered starts instead of one burst). */
  rampUpMs?: number;
  rng: Rng;
  signal?: AbortSignal;
}

export interface LoadResult {
  launched: number;
  elapsedMs: number;
}

/** Resolves after `ms`, or at once when the signal aborts. */
async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return;
  try {
    await sleepTimer(ms, undefined, signal ? { signal } : undefined);
  } catch {
    /* aborted */
  }
}

export function validatePlan(plan: LoadPlan): void {
  if (plan.rate === undefined && (plan.concurrency === undefined || plan.concurrency < 1)) {
    throw new Error('closed loop needs concurrency >= 1 (or give a rate for an open loop)');
  }
  if (plan.rate !== undefined && !(plan.rate > 0)) throw new Error('rate must be > 0');
  if (plan.requests === undefined && plan.durationMs === undefined) {
    throw new Error('give a number of requests or a duration');
  }
}

/** Runs `task(i)` for i = 0, 1, … under the plan. `task` must not throw. */
export async function runLoad(plan: LoadPlan, task: (index: number) => Promise<void>): Promise<LoadResult> {
  validatePlan(plan);
  const start = performance.now();
  const deadline = plan.durationMs !== undefined ? start + plan.durationMs : Infinity;
  const maxRequests = plan.requests ?? Infinity;
  let next = 0;
  const more = (): boolean =>
    next < maxRequests && performance.now() < deadline && !(plan.signal?.aborted ?? false);

  if (plan.rate === undefined) {
    const workers = Math.min(plan.concurrency ?? 1, maxRequests);
    const worker = async (_: unknown, k: number): Promise<void> => {
      if (plan.rampUpMs) await sleep((k / workers) * plan.rampUpMs, plan.signal);
      while (more()) await task(next++);
    };
    await Promise.all(Array.from({ length: workers }, worker));
    return { launched: next, elapsedMs: performance.now() - start };
  }

  const cap = plan.concurrency ?? Infinity;
  const inFlight = new Set<Promise<void>>();
  let arrival = start;
  while (true) {
    arrival += exponential(plan.rng, plan.rate) * 1000;
    if (arrival >= deadline) break;
    await sleep(arrival - performance.now(), plan.signal);
    while (inFlight.size >= cap) await Promise.race(inFlight);
    if (!more()) break;
    const p: Promise<void> = task(next++).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  return { launched: next, elapsedMs: performance.now() - start };
}

/** `30`, `30s`, `500ms`, `2m`, `1h` → milliseconds. A bare number is seconds. */
export function parseDuration(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(s);
  if (!m) throw new Error(`invalid duration "${s}" (use e.g. 30s, 500ms, 2m)`);
  const v = Number(m[1]);
  const unit = m[2] ?? 's';
  const mult = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return v * mult;
}
