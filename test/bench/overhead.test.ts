/**
 * bench:overhead end to end with real processes (simulator, tokentap, the floor, the load generator), on a
 * short non-streaming scenario: every target served the load, and the proxies' CPU was read.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../../bench/overhead.ts', import.meta.url)); // runs dist/ (built by pretest)

function overhead(args: string[]) {
  return spawnSync(process.execPath, ['--experimental-strip-types', '--no-warnings', script, ...args], { encoding: 'utf8', timeout: 60_000 });
}

interface Figures {
  target: string;
  ok: number;
  errors: Record<string, number>;
  cpuUsPerRequest: number | null;
}

describe('bench:overhead', () => {
  it('runs the floor (bench/bare-proxy.mjs) beside tokentap in the same rounds', () => {
    const r = overhead(['--scenario', 'nonstream', '--rounds', '1', '--nonstream-duration', '1', '--nonstream-concurrency', '4', '--targets', 'direct,tokentap,floor']);
    expect(r.status, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { results: { nonstream: Figures[] } };
    const figs = json.results.nonstream;
    expect(figs.map((f) => f.target)).toEqual(['direct', 'tokentap', 'floor']);
    for (const f of figs) {
      expect(f.ok, f.target).toBeGreaterThan(50);
      expect(f.errors, f.target).toEqual({});
    }
    expect(figs[0].cpuUsPerRequest).toBeNull(); // direct: no proxy process
    expect(figs[1].cpuUsPerRequest).toBeGreaterThan(0);
    expect(figs[2].cpuUsPerRequest).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/^floor\s+\d+\s+0\s+\d+/m); // the table has a floor row
  }, 70_000);

  it('names an unknown target and the ones it knows', () => {
    const r = overhead(['--scenario', 'nonstream', '--targets', 'direct,envoy']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('unknown target "envoy" (direct, tokentap, floor, nginx)');
  });
});
