import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRng } from '../../src/bench/distributions.js';
import { parseDuration, runLoad } from '../../src/bench/load.js';
import { synthPrompt, WORDS } from '../../src/bench/prompt.js';

describe('runLoad', () => {
  it('closed loop: never more than N in flight, exactly M requests', async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    const r = await runLoad({ concurrency: 3, requests: 10, rng: createRng(1) }, async (i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      seen.push(i);
      await sleep(5);
      inFlight--;
    });
    expect(r.launched).toBe(10);
    expect(peak).toBe(3);
    expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('open loop: Poisson arrivals at about the rate, independent of service time', async () => {
    const r = await runLoad({ rate: 200, requests: 100, rng: createRng(5) }, async () => {
      await sleep(50);
    });
    expect(r.launched).toBe(100);
    // 100 arrivals at 200/s ≈ 0.5 s (+ the last 50 ms of service); loose bounds for CI noise
    expect(r.elapsedMs).toBeGreaterThan(250);
    expect(r.elapsedMs).toBeLessThan(1500);
  });

  it('open loop with a concurrency cap waits for a slot', async () => {
    let inFlight = 0;
    let peak = 0;
    await runLoad({ rate: 1000, concurrency: 2, requests: 12, rng: createRng(2) }, async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await sleep(5);
      inFlight--;
    });
    expect(peak).toBe(2);
  });

  it('stops launching at the duration', async () => {
    const r = await runLoad({ concurrency: 2, durationMs: 100, rng: createRng(1) }, async () => {
      await sleep(10);
    });
    expect(r.launched).toBeGreaterThan(4);
    expect(r.launched).toBeLessThan(40);
    expect(r.elapsedMs).toBeLessThan(400);
  });

  it('rejects plans without a stop condition or a shape', async () => {
    await expect(runLoad({ concurrency: 1, rng: createRng(1) }, async () => {})).rejects.toThrow();
    await expect(runLoad({ requests: 1, rng: createRng(1) }, async () => {})).rejects.toThrow();
  });
});

describe('parseDuration', () => {
  it('parses units; a bare number is seconds', () => {
    expect(parseDuration('30')).toBe(30_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(() => parseDuration('soon')).toThrow();
  });
});

describe('synthPrompt', () => {
  it('makes N words from the vocabulary, deterministically per seed', () => {
    const p = synthPrompt(50, createRng(9));
    expect(p.split(' ')).toHaveLength(50);
    expect(p.split(' ').every((w) => WORDS.includes(w))).toBe(true);
    expect(synthPrompt(50, createRng(9))).toBe(p);
    expect(synthPrompt(50, createRng(10))).not.toBe(p);
    expect(synthPrompt(0, createRng(1))).toBe('');
  });
});

describe('ramp-up', () => {
  it('staggers the closed-loop workers over rampUpMs', async () => {
    const starts: number[] = [];
    const t0 = performance.now();
    await runLoad({ concurrency: 4, requests: 4, rampUpMs: 200, rng: createRng(1) }, async () => {
      starts.push(performance.now() - t0);
      await sleep(250); // busy for longer than the ramp: each request is its own worker's first
    });
    expect(starts).toHaveLength(4);
    expect(starts[0]).toBeLessThan(40);
    expect(starts[3]).toBeGreaterThanOrEqual(145); // 3/4 × 200 ms
  });
});
