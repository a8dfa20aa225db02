/**
 * bench:ab end to end with real processes: the same build on both sides (an A/A run) measures the same CPU
 * per request within a wide margin, and both sides really served requests.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { runAb } from '../../src/bench/overhead/ab.js';

const dist = fileURLToPath(new URL('../../dist', import.meta.url)); // built by `npm test`'s pretest

/** Runs bench:ab with `args` and returns its result line's figures. */
async function ab(args: string[]) {
  let out = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    const code = await runAb(['--a', dist, '--b', dist, ...args]);
    expect(code).toBe(0);
  } finally {
    write.mockRestore();
  }
  const m = /A ([\d.]+) µs CPU\/request \((\d+)\)\s+B ([\d.]+) µs CPU\/request \((\d+)\)\s+B\/A ([\d.]+)\s+\(per slice pair: median ([\d.]+), ([\d.]+)–([\d.]+)\)/.exec(out);
  expect(m, out).not.toBeNull();
  return m!;
}

describe('bench:ab', () => {
  it('an A/A run of one build: both sides serve the load and B/A is close to 1', async () => {
    const [, , aRequests, , bRequests, ratio, median, low, high] = await ab(['--rate', '500', '--slices', '2', '--slice-ms', '600']);
    expect(Number(low)).toBeLessThanOrEqual(Number(median));
    expect(Number(median)).toBeLessThanOrEqual(Number(high));
    expect(Number(aRequests)).toBeGreaterThan(400); // 2 slices × 0.6 s × 500/s
    expect(Number(bRequests)).toBeGreaterThan(400);
    expect(Number(ratio)).toBeGreaterThan(0.5);
    expect(Number(ratio)).toBeLessThan(2);
  }, 30_000);

  it('burst mode: each slice is one burst of exactly --burst streams on each side', async () => {
    const [, , aRequests, , bRequests, ratio] = await ab(['--mode', 'burst', '--burst', '50', '--tokens', '4', '--slices', '2', '--gap-ms', '0']);
    expect(Number(aRequests)).toBe(100); // 2 slices × 50
    expect(Number(bRequests)).toBe(100);
    expect(Number(ratio)).toBeGreaterThan(0.3);
    expect(Number(ratio)).toBeLessThan(3);
  }, 60_000);
});
