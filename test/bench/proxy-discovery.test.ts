/**
 * Which tokentap the proxy column comes from. Discovery looks at the target's origin and at tokentap's
 * metrics port on the target's host (here a port-0 tokentap passed as `discoverPorts`, standing in for :9464),
 * and uses a tokentap only when the probe requests sent to the target show up in its counters. An unrelated
 * tokentap there (in front of the same simulator) must not be reported as "proxy" when the target is the
 * simulator itself or a port nobody serves. Also: a protected /metrics (--metrics-token).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBenchCli } from '../../src/bench/cli.js';
import { discoverMetricsUrl, PROBES, verifyTarget } from '../../src/bench/proxy-side.js';
import { renderReport } from '../../src/bench/report-table.js';
import { runBench, type BenchOptions } from '../../src/bench/run.js';
import type { RunningTokentap } from '../../src/server.js';
import { startSimulator } from '../../src/sim/server.js';
import { freePort } from '../helpers/ports.js';
import { startTap } from '../helpers/tap.js';
import { captureOutput } from './output.js';

let sim: Awaited<ReturnType<typeof startSimulator>>;
/** In front of the simulator; the bench's target in the "through tokentap" cases. */
let tap: RunningTokentap;
/** Another tokentap in front of the same simulator, on "the metrics port": not the target in the other cases. */
let other: RunningTokentap;
/** A tokentap whose /metrics needs a bearer token. */
let locked: RunningTokentap;
let closedPort: number;

const port = (url: string): number => Number(new URL(url).port);

beforeAll(async () => {
  sim = await startSimulator({ port: 0, ttftMs: 10, itlMs: 2, outputTokens: 4 });
  tap = await startTap(sim.url);
  other = await startTap(sim.url);
  locked = await startTap(sim.url, { metrics_token: 'sekret-token' });
  closedPort = await freePort();
});

afterAll(async () => {
  for (const t of [tap, other, locked]) await t?.close();
  await sim?.close();
});

const base = (target: string, extra: Partial<BenchOptions> = {}): BenchOptions => ({
  target,
  model: 'm',
  concurrency: 2,
  requests: 6,
  maxTokens: 4,
  ...extra,
});

describe('verifyTarget', () => {
  it('passes for the tokentap the target is, fails for another one, and for a target nobody serves', async () => {
    expect(await verifyTarget(`${tap.proxyUrl}/v1`, `${tap.metricsUrl}/metrics`)).toEqual({ ok: true });

    const direct = await verifyTarget(`${sim.url}/v1`, `${other.metricsUrl}/metrics`);
    expect(direct.ok).toBe(false);
    expect((direct as { reason: string }).reason).toBe(
      `it counted 0 of ${PROBES} probe requests sent to ${sim.url}/v1/tokentap-bench-probe, so the target's requests do not go through it`,
    );

    const throughAnother = await verifyTarget(`${tap.proxyUrl}/v1`, `${other.metricsUrl}/metrics`);
    expect(throughAnother.ok).toBe(false);

    const nobody = await verifyTarget(`http://127.0.0.1:${closedPort}/v1`, `${other.metricsUrl}/metrics`);
    expect(nobody).toEqual({
      ok: false,
      reason: expect.stringMatching(
        new RegExp(`^the probe GET http://127\\.0\\.0\\.1:${closedPort}/v1/tokentap-bench-probe: connection refused .*\\[ECONNREFUSED\\]$`),
      ),
    });
  });
});

describe('discovery', () => {
  it('target = the simulator itself: the tokentap on the metrics port is not reported as the proxy', async () => {
    const r = await runBench(base(`${sim.url}/v1`, { discoverPorts: [port(other.metricsUrl)] }));
    expect(r.summary.ok).toBe(6);
    expect(r.summary.proxy).toBeNull();
    expect(r.config.metricsUrl).toBeNull();
    expect(r.summary.proxyError).toContain(`not using the tokentap at ${other.metricsUrl}/metrics: it counted 0 of ${PROBES} probe requests`);
    const text = renderReport(r);
    expect(text).not.toMatch(/^\s+proxy\s/m); // no proxy rows
    expect(text).toContain(`proxy side not shown: not using the tokentap at ${other.metricsUrl}/metrics`);
  });

  it('target = a port nobody serves: no proxy figures, and the errors name the URL and the cause', async () => {
    const target = `http://127.0.0.1:${closedPort}/v1`;
    const r = await runBench(base(target, { discoverPorts: [port(other.metricsUrl)] }));
    expect(r.summary.ok).toBe(0);
    expect(r.summary.proxy).toBeNull();
    expect(r.summary.proxyError).toContain(`the probe GET ${target}/tokentap-bench-probe: connection refused`);
    expect(r.summary.errorBreakdown).toEqual({ ECONNREFUSED: 6 });
    expect(r.records[0].errorMessage).toBe(`POST ${target}/chat/completions: connection refused (is the server running, on that host and port?) [ECONNREFUSED]`);
    expect(renderReport(r)).toContain('ECONNREFUSED (connection refused (is the server running, on that host and port?))');
  });

  it('target = a tokentap: its metrics port is found and verified, and the proxy rows are its figures', async () => {
    const r = await runBench(base(`${tap.proxyUrl}/v1`, { discoverPorts: [port(other.metricsUrl), port(tap.metricsUrl)] }));
    expect(r.config.metricsUrl).toBe(`${tap.metricsUrl}/metrics`);
    const p = r.summary.proxy!;
    expect(p.requests).toBe(6);
    expect(p.byCode).toEqual({ '200': 6 });
    expect(p.ttftMs.count).toBe(6);
    // the tokentap passed over on the way is said
    expect(r.summary.warnings).toEqual([expect.stringContaining(`not using the tokentap at ${other.metricsUrl}/metrics`)]);
  });

  it('an explicit --metrics-url of another tokentap: shown (the user asked), with a warning that it may not be the target', async () => {
    const r = await runBench(base(`${sim.url}/v1`, { metricsUrl: `${other.metricsUrl}/metrics` }));
    expect(r.summary.proxy).not.toBeNull();
    expect(r.summary.proxy!.requests).toBe(0);
    expect(r.summary.warnings[0]).toMatch(/^the tokentap at \S+ \(--metrics-url\) may not be the target's: it counted 0 of 3 probe requests/);
    expect(renderReport(r)).toContain('warning: the tokentap at');
  });

  it('nothing on the metrics ports: says where it looked', async () => {
    const d = await discoverMetricsUrl(`${sim.url}/v1`, { ports: [closedPort] });
    expect(d).toEqual({
      metricsUrl: null,
      notes: [`no tokentap /metrics found at ${sim.url}/metrics or http://127.0.0.1:${closedPort}/metrics (give --metrics-url, or --no-discover)`],
    });
  });
});

describe('--metrics-token', () => {
  it('without it, a protected /metrics is named with the flag to give; with it, the proxy side is there', async () => {
    const target = `${locked.proxyUrl}/v1`;
    const without = await runBench(base(target, { discoverPorts: [port(locked.metricsUrl)] }));
    expect(without.summary.proxy).toBeNull();
    expect(without.summary.proxyError).toContain(
      `GET ${locked.metricsUrl}/metrics: HTTP 401: this /metrics is protected, give its token with --metrics-token`,
    );

    const wrong = await runBench(base(target, { metricsUrl: `${locked.metricsUrl}/metrics`, metricsToken: 'nope' }));
    expect(wrong.summary.proxyError).toBe(`GET ${locked.metricsUrl}/metrics: HTTP 401: the --metrics-token was refused`);

    const withToken = await runBench(base(target, { discoverPorts: [port(locked.metricsUrl)], metricsToken: 'sekret-token' }));
    expect(withToken.summary.proxy?.requests).toBe(6);
    expect(withToken.summary.warnings).toEqual([]);
  });

  it('from the command line: --metrics-token, or $TOKENTAP_METRICS_TOKEN', async () => {
    const args = ['--target', `${locked.proxyUrl}/v1`, '--model', 'm', '--requests', '3', '--max-tokens', '2', '--quiet', '--metrics-url', `${locked.metricsUrl}/metrics`];
    const flag = captureOutput();
    try {
      expect(await runBenchCli([...args, '--metrics-token', 'sekret-token'])).toBe(0);
    } finally {
      flag.restore();
    }
    expect(flag.text).toContain('proxy counted 3');
    expect(flag.text).not.toContain('sekret-token'); // the token is not printed

    process.env.TOKENTAP_METRICS_TOKEN = 'sekret-token';
    const env = captureOutput();
    try {
      expect(await runBenchCli(args)).toBe(0);
    } finally {
      env.restore();
      delete process.env.TOKENTAP_METRICS_TOKEN;
    }
    expect(env.text).toContain('proxy counted 3');
  });
});
