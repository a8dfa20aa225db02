/**
 * --proxy-log: with tokentap's access log joined, the proxy rows' TTFT, TTFC, TPOT, E2E and tokens are exact
 * (from the log lines of the run's own requests); quantiles from /metrics alone are interpolated within
 * tokentap's buckets (vLLM's, coarse: TTFT 100–250 ms) and labelled approximate with the bucket. A log that
 * does not hold the run's requests says why instead of "0 matched" in silence.
 * Simulator (TTFT 150 ms, in the 100–250 ms bucket) → tokentap (default buckets) on port 0.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBenchCli } from '../../src/bench/cli.js';
import { parseAccessLog } from '../../src/bench/join.js';
import { joinWarning, type ProxyLogRead } from '../../src/bench/proxy-log.js';
import { fmtProxyQuantile, renderReport } from '../../src/bench/report-table.js';
import { runBench, type BenchOptions } from '../../src/bench/run.js';
import { summarize } from '../../src/bench/stats.js';
import type { RunningTokentap } from '../../src/server.js';
import { startSimulator } from '../../src/sim/server.js';
import { startTap } from '../helpers/tap.js';
import { captureOutput } from './output.js';

const dir = mkdtempSync(join(tmpdir(), 'tokentap-bench-log-'));
const logFile = join(dir, 'access.log');
let sim: Awaited<ReturnType<typeof startSimulator>>;
/** Logs to logFile. */
let tap: RunningTokentap;
/** Logs nowhere the bench can read (as a tokentap logging to stdout). */
let quiet: RunningTokentap;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, ttftMs: 150, itlMs: 4, outputTokens: 5 });
  tap = await startTap(sim.url, { access_log: logFile });
  quiet = await startTap(sim.url);
});

afterAll(async () => {
  for (const t of [tap, quiet]) await t?.close();
  await sim?.close();
});

const opts = (t: RunningTokentap, extra: Partial<BenchOptions> = {}): BenchOptions => ({
  target: `${t.proxyUrl}/v1`,
  model: 'm',
  concurrency: 4,
  requests: 8,
  maxTokens: 5,
  metricsUrl: `${t.metricsUrl}/metrics`,
  proxyLogWaitMs: 400,
  ...extra,
});

/** The report's proxy row under `label` (the row after the client's). */
function proxyRow(report: string, label: string): string {
  const lines = report.split('\n');
  const i = lines.findIndex((l) => l.startsWith(label));
  expect(lines[i + 1], report).toMatch(/^\s+proxy\s/);
  return lines[i + 1];
}

describe('proxy-side figures', () => {
  it('from /metrics alone: quantiles are approximate, each with the bucket it lies in', async () => {
    const r = await runBench(opts(tap));
    const p = r.summary.proxy!;
    expect(p.ttftMs.source).toBe('metrics');
    expect(p.ttftMs.buckets!.p50).toEqual({ lower: 100, upper: 250 });
    expect(p.ttftMs.max).toBeNull();
    const row = proxyRow(renderReport(r), 'TTFT (ms)');
    expect(row).toMatch(/^\s+proxy\s+8\s+1\d\d\.\d\s+≈\d+\.\d \(100–250\)\s+≈\d+\.\d \(100–250\)/);
    expect(renderReport(r)).toContain('quantiles ≈ interpolated within tokentap\'s histogram buckets (the bucket in parentheses');
  });

  it("with the access log: exact, equal to the log lines' own figures and close to the client's; ITL stays approximate", async () => {
    const r = await runBench(opts(tap, { proxyLog: logFile, runId: 'exact' }));
    const s = r.summary;
    expect(s.join!.matched).toBe(8);
    expect(s.warnings).toEqual([]);
    const p = s.proxy!;
    const mine = parseAccessLog(readFileSync(logFile, 'utf8')).filter((e) => /^bench-exact-\d+$/.test(e.request_id)); // not the probes (bench-exact-probe0…)
    expect(mine).toHaveLength(8);
    for (const [figure, key] of [
      ['ttftMs', 'ttft_ms'],
      ['ttfcMs', 'ttfc_ms'],
      ['tpotMs', 'tpot_ms'],
      ['e2eMs', 'e2e_ms'],
      ['completionTokens', 'completion_tokens'],
    ] as const) {
      const expected = summarize(mine.map((e) => e[key]));
      expect(p[figure], figure).toMatchObject({ source: 'log', buckets: null, count: 8, p50: expected.p50, p99: expected.p99, max: expected.max });
    }
    // exact: within a few ms of the client's TTFT (interpolated in 100–250 it would read 175 for a true 150)
    expect(Math.abs(p.ttftMs.p50! - s.client.ttftMs.p50!)).toBeLessThan(20);
    expect(p.itlMs.source).toBe('metrics');
    expect(p.itlMs.count).toBe(8 * 4);

    const report = renderReport(r);
    expect(proxyRow(report, 'TTFT (ms)')).not.toContain('≈');
    expect(proxyRow(report, 'E2E (ms)')).not.toContain('≈');
    expect(proxyRow(report, 'ITL (ms)')).toMatch(/≈\d+\.\d+ \(\d+–\d+\)/);
    expect(report).toContain(`TTFT, TTFC, TPOT, E2E, prompt tokens, completion tokens: exact, from ${logFile}`);
    expect(report).toMatch(/ITL: from http:\S+\/metrics, quantiles ≈ interpolated/);
  });

  it('with the access log and no /metrics: the proxy side comes from the log alone', async () => {
    const r = await runBench(opts(tap, { metricsUrl: null, proxyLog: logFile }));
    const p = r.summary.proxy!;
    expect(p.metricsUrl).toBeNull();
    expect(p.requests).toBe(8);
    expect(p.byCode).toEqual({ '200': 8 });
    expect(p.byOutcome).toEqual({ ok: 8 });
    expect(p.tokens.completion).toBe(8 * 5);
    expect(p.ttftMs).toMatchObject({ source: 'log', count: 8 });
    expect(p.itlMs.count).toBe(0); // not in the log
    expect(renderReport(r)).toContain(`proxy (access log ${logFile}, endpoint=chat_completions): codes 200=8; outcomes ok=8`);
  });
});

describe('a join that comes up short says why', () => {
  it('tokentap logs elsewhere (stdout) and the file does not exist: the warning names the file and --log', async () => {
    const missing = join(dir, 'not-written.log');
    const r = await runBench(opts(quiet, { proxyLog: missing }));
    expect(r.summary.join!.matched).toBe(0);
    const w = `joined 0 of 8 requests with ${missing}: the file does not exist. Does tokentap write its access log there? It logs to stdout unless started with --log ${missing}`;
    expect(r.summary.warnings[0]).toContain(w);
    expect(r.summary.proxy!.ttftMs.source).toBe('metrics'); // falls back to /metrics, labelled approximate
    const report = renderReport(r);
    expect(report).toContain(`warning: ${w}`);
    expect(report).not.toContain('client − proxy'); // no empty Δ table
  });

  it('from the command line too (the report on stdout)', async () => {
    const missing = join(dir, 'cli-not-written.log');
    const cap = captureOutput();
    let code: number;
    try {
      code = await runBenchCli(['--target', `${quiet.proxyUrl}/v1`, '--model', 'm', '--requests', '3', '--max-tokens', '2', '--quiet', '--no-discover', '--proxy-log', missing]);
    } finally {
      cap.restore();
    }
    expect(code).toBe(0);
    expect(cap.text).toContain(`warning: joined 0 of 3 requests with ${missing}: the file does not exist.`);
  }, 10_000);

  it('an empty file', async () => {
    const empty = join(dir, 'empty.log');
    writeFileSync(empty, '');
    const r = await runBench(opts(quiet, { proxyLog: empty }));
    expect(r.summary.warnings[0]).toMatch(/^joined 0 of 8 requests with \S+empty\.log: the file is empty\. Does tokentap write its access log there\?/);
  });

  it('a file nothing was written to during the run: its last line is quoted', async () => {
    const stale = join(dir, 'stale.log');
    writeFileSync(stale, '{"ts":"2020-01-01T00:00:00.000Z","request_id":"old-1","status":200}\n');
    const r = await runBench(opts(quiet, { proxyLog: stale }));
    expect(r.summary.warnings[0]).toBe(
      `joined 0 of 8 requests with ${stale}: nothing was written to it during the run; its last line is: ` +
        `{"ts":"2020-01-01T00:00:00.000Z","request_id":"old-1","status":200}. Does tokentap write its access log there? ` +
        `It logs to stdout unless started with --log ${stale} (or access_log: ${stale})`,
    );
  });

  it("another tokentap's log (lines written during the run, none of this run's ids)", async () => {
    // the target is `quiet`; `tap` writes logFile, with traffic of its own meanwhile
    let on = true;
    const traffic = (async () => {
      while (on) {
        await fetch(`${tap.proxyUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': 'someone-else' },
          body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }),
        }).then((res) => res.arrayBuffer());
      }
    })();
    let r;
    try {
      r = await runBench(opts(quiet, { proxyLog: logFile, runId: 'other', proxyLogWaitMs: 600 }));
    } finally {
      on = false;
      await traffic;
    }
    expect(r.summary.warnings[0]).toMatch(
      new RegExp(
        `^joined 0 of 8 requests with ${logFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: lines were written to it during the run, none with this run's x-request-id \\(bench-other-…\\); its last line is: \\{.*"request_id":"someone-else".*…\\. Is the target that tokentap`,
      ),
    );
  });

  it('joinWarning: a partial join, and none when every answered request is there', () => {
    const read: ProxyLogRead = { entries: [], state: 'ok', error: null, bytesSinceStart: 100, lastLine: '{}' };
    expect(joinWarning('a.log', 480, 500, 500, read, 'bench-x-')).toBe(
      'joined 480 of 500 requests with a.log: 20 of the requests answered are not in it (is something besides this tokentap answering some of them?)',
    );
    expect(joinWarning('a.log', 498, 498, 500, read, 'bench-x-')).toBeNull(); // 2 never reached a server
    expect(joinWarning('a.log', 0, 5, 5, { ...read, state: 'unreadable', error: 'permission denied [EACCES]' }, 'bench-x-')).toBe(
      'joined 0 of 5 requests with a.log: cannot read it: permission denied [EACCES]',
    );
  });
});

describe('fmtProxyQuantile', () => {
  it('exact as is; interpolated with ≈ and the bucket; beyond the last bound as such', () => {
    expect(fmtProxyQuantile(203.25, null, 1)).toBe('203.3');
    expect(fmtProxyQuantile(175, { lower: 100, upper: 250 }, 1)).toBe('≈175.0 (100–250)');
    expect(fmtProxyQuantile(100.00000000000001 * 1.5, { lower: 100.00000000000001, upper: 250.00000000000003 }, 1)).toBe('≈150.0 (100–250)');
    expect(fmtProxyQuantile(2560000, { lower: 2560000, upper: null }, 1)).toBe('>2560000 (+Inf bucket)');
    expect(fmtProxyQuantile(null, null, 1)).toBe('-');
  });
});

