/**
 * End to end: simulator (TTFT 80 ms, ITL 10 ms) → tokentap (access log to a temp file) → bench.
 * Client-side and proxy-side TTFT must agree within a few ms, per request (join) and in aggregate.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBenchCli } from '../../src/bench/cli.js';
import { runBench } from '../../src/bench/run.js';
import type { startTokentap } from '../../src/server.js';
import { startSimulator } from '../../src/sim/server.js';
import { startTap } from '../helpers/tap.js';
import { captureOutput } from './output.js';

type Closable = { close(): Promise<void> };

describe('tokentap bench against the simulator through tokentap', () => {
  let sim: Awaited<ReturnType<typeof startSimulator>>;
  let tap: Awaited<ReturnType<typeof startTokentap>>;
  const dir = mkdtempSync(join(tmpdir(), 'tokentap-bench-'));
  const logFile = join(dir, 'access.log');
  const started: Closable[] = [];

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, ttftMs: 80, itlMs: 10, outputTokens: 16 });
    started.push(sim);
    tap = await startTap(sim.url, { access_log: logFile });
    started.push(tap);
  });

  afterAll(async () => {
    for (const s of started.reverse()) await s.close();
  });

  it('client-side and proxy-side TTFT agree', async () => {
    const result = await runBench({
      target: `${tap.proxyUrl}/v1`,
      model: 'bench-model',
      concurrency: 4,
      requests: 20,
      warmupRequests: 8,
      promptTokens: 'uniform:20:40',
      maxTokens: 16,
      metricsUrl: `${tap.metricsUrl}/metrics`,
      proxyLog: logFile,
      runId: 'e2e',
    });
    const s = result.summary;
    expect(s.requests).toBe(20);
    expect(s.errors).toBe(0);
    expect(result.records.every((r) => r.responseRequestId === r.requestId)).toBe(true);
    expect(result.records.map((r) => r.requestId)).toContain('bench-e2e-19');

    // Client side: TTFT ≈ 80 ms (the simulator's), 16 tokens, ITL ≈ 10 ms.
    expect(s.client.ttftMs.count).toBe(20);
    expect(s.client.ttftMs.p50!).toBeGreaterThanOrEqual(79);
    expect(s.client.ttftMs.p50!).toBeLessThan(110);
    expect(s.client.completionTokens.p50).toBe(16);
    expect(s.usage.reported).toBe(20);
    expect(s.client.itlMs.count).toBe(20 * 15);
    expect(s.client.tpotMs.p50!).toBeGreaterThan(8);
    expect(s.client.tpotMs.p50!).toBeLessThan(20);

    // Proxy side from /metrics deltas: exactly this run's requests (warm-up excluded).
    const p = s.proxy!;
    expect(p).not.toBeNull();
    expect(p.requests).toBe(20);
    expect(p.byCode).toEqual({ '200': 20 });
    expect(p.ttftMs.count).toBe(20);
    expect(p.e2eMs.count).toBe(20);
    // Means are exact on both sides; looser than the medians below, as one slow request moves a mean (a 200 ms
    // stall on a loaded runner moves a 20-request mean by 10 ms). A proxy timing from the wrong event would be
    // off by the 80 ms TTFT on every request.
    expect(Math.abs(p.ttftMs.mean! - s.client.ttftMs.mean!)).toBeLessThan(25);
    expect(Math.abs(p.e2eMs.mean! - s.client.e2eMs.mean!)).toBeLessThan(25);

    // Join by x-request-id: client − proxy is the network + client cost, small on loopback.
    const j = s.join!;
    expect(j.matched).toBe(20);
    expect(j.unmatchedClient).toBe(0);
    expect(j.ttftDiffMs.count).toBe(20);
    // a few ms on an idle machine; 10 ms was seen with the 2 cores oversubscribed 3×, hence 20 (≪ the 80 ms TTFT)
    expect(Math.abs(j.ttftDiffMs.p50!)).toBeLessThan(20);
    expect(Math.abs(j.e2eDiffMs.p50!)).toBeLessThan(20);
    expect(j.ttftDiffMs.min!).toBeGreaterThan(-1); // the client cannot see a token before the proxy does
  });

  it('runs from the command line, writes --json and --html, and fails CI on errors', async () => {
    const json = join(dir, 'run.json');
    const html = join(dir, 'run.html');
    const target = `${tap.proxyUrl}/v1`;
    const out = captureOutput();
    let code: number;
    try {
      code = await runBenchCli([
        '--target', target, '--model', 'm', '--concurrency', '2', '--requests', '6', '--max-tokens', '4',
        '--endpoint', 'completions', '--metrics-url', `${tap.metricsUrl}/metrics`, '--proxy-log', logFile,
        '--json', json, '--html', html, '--quiet', '--max-error-rate', '0',
      ]);
    } finally {
      out.restore();
    }
    expect(code).toBe(0);
    expect(out.text).toContain('TTFT (ms)');
    expect(out.text).toContain('proxy');
    expect(out.text).toContain('client − proxy');
    const doc = JSON.parse(readFileSync(json, 'utf8')) as { summary: { requests: number; proxy: { requests: number } }; requests: unknown[] };
    expect(doc.summary.requests).toBe(6);
    expect(doc.summary.proxy.requests).toBe(6);
    expect(doc.requests).toHaveLength(6);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<svg');
    expect(page).not.toMatch(/<script|<link|src="http/);

    const bad = captureOutput();
    try {
      code = await runBenchCli([
        '--target', target, '--model', 'm', '--concurrency', '2', '--requests', '4', '--max-tokens', '4',
        '--header', 'x-sim-fault: http-500', '--no-discover', '--quiet', '--max-error-rate', '0.1',
      ]);
    } finally {
      bad.restore();
    }
    expect(code).toBe(1);
    expect(bad.text).toContain('HTTP 500');
    expect(bad.text).toContain('exceeds --max-error-rate');
  });

  it('measures the non-streaming path', async () => {
    const r = await runBench({ target: `${tap.proxyUrl}/v1`, model: 'm', stream: false, concurrency: 2, requests: 4, maxTokens: 8, metricsUrl: null });
    expect(r.summary.ok).toBe(4);
    expect(r.summary.client.ttftMs.count).toBe(0);
    expect(r.summary.client.e2eMs.p50!).toBeGreaterThan(79);
    expect(r.summary.client.completionTokens.p50).toBe(8);
  });
});

