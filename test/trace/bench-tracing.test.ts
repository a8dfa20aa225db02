/**
 * `bench:overhead --tracing 1,0`: traced tokentap targets run beside the others in the same rounds and export
 * to the benchmark's local OTLP sink (ratio 1 exports, ratio 0 does not). A functional check of the option,
 * on a tiny non-streaming scenario; the figures themselves are measured on a quiet machine.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const script = fileURLToPath(new URL('../../bench/overhead.ts', import.meta.url)); // runs dist/ (built by pretest)

it('adds trace@R targets that serve the load and export (R = 1) or not (R = 0)', () => {
  const r = spawnSync(
    process.execPath,
    ['--experimental-strip-types', '--no-warnings', script, '--scenario', 'nonstream', '--rounds', '1', '--nonstream-duration', '1', '--nonstream-concurrency', '4', '--targets', 'direct,tokentap', '--tracing', '1,0'],
    { encoding: 'utf8', timeout: 90_000 },
  );
  expect(r.status, r.stderr).toBe(0);
  const json = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
    results: { nonstream: { target: string; ok: number; errors: Record<string, number>; cpuUsPerRequest: number | null }[] };
    tracing: Record<string, { exports: number; bytes: number }>;
  };
  const figs = json.results.nonstream;
  expect(figs.map((f) => f.target)).toEqual(['direct', 'tokentap', 'trace@1', 'trace@0']);
  for (const f of figs) {
    expect(f.ok, f.target).toBeGreaterThan(20);
    expect(f.errors, f.target).toEqual({});
  }
  expect(figs[2].cpuUsPerRequest).toBeGreaterThan(0);
  expect(json.tracing['trace@1'].exports).toBeGreaterThan(0);
  expect(json.tracing['trace@1'].bytes).toBeGreaterThan(figs[2].ok * 100); // a span is a few hundred bytes
  expect(json.tracing['trace@0']).toEqual({ exports: 0, bytes: 0 });
  expect(r.stdout).toMatch(/^trace@1\s+\d+\s+0\s+/m);
}, 100_000);
