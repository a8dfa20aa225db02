/**
 * --workers N: one port, N processes, and the metrics port serving the exact sum over workers, in the classic
 * format and, for a scraper that asks, in OpenMetrics with each bucket's newest exemplar over the workers
 * (src/metrics/cluster-metrics.ts). Each request opens its own connection (`connection: close`): the primary
 * hands new connections to the workers in turn, so both serve some, and consecutive requests alternate.
 * With the `prometheus` binary, a real Prometheus with exemplar storage scrapes the primary and stores them
 * (skipped without it, with a line saying so; under CI=true it fails instead).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSim } from '../../src/sim/server.js';
import { requireBinary, skipWithout } from '../deploy/helpers.js';
import { metricSum, parseExposition } from '../helpers/prom.js';
import { startPrometheus, type RunningPrometheus } from '../helpers/prometheus.js';
import { eventually } from '../helpers/wait.js';

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;
const OPENMETRICS = 'application/openmetrics-text;version=1.0.0';
const TTFT = 'tokentap_time_to_first_token_seconds';
const E2E = 'tokentap_request_duration_seconds';
const skipPrometheus = skipWithout('prometheus');

let sim: RunningSim;
let child: ChildProcess;
let exited: Promise<number | null>;
let proxyUrl: string;
let metricsUrl: string;
let prom: RunningPrometheus | undefined;
const started = Date.now() / 1000;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, ttftMs: 5, itlMs: 1 });
  child = spawn(
    process.execPath,
    [CLI, '--workers', '2', '--upstream', sim.url, '--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--log', 'off'],
    { env: { PATH: process.env.PATH } },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await eventually(() => /with 2 workers; metrics at/.test(stderr), 15_000);
  proxyUrl = /proxying (\S+) ->/.exec(stderr)![1];
  metricsUrl = /metrics at (\S+)\/metrics/.exec(stderr)![1];
  if (!skipPrometheus) {
    prom = await startPrometheus(requireBinary('prometheus'), {
      global: { scrape_interval: '1s', scrape_timeout: '1s' },
      scrape_configs: [{ job_name: 'tokentap', static_configs: [{ targets: [new URL(metricsUrl).host] }] }],
    });
    await prom.ready();
  }
}, 60_000);

afterAll(async () => {
  await prom?.close();
  if (child.exitCode === null) child.kill('SIGKILL');
  await sim.close();
}, 30_000);

/** A chat request on its own connection, with this x-request-id, read to the end. */
async function chat(requestId: string, stream: boolean, headers: Record<string, string> = {}): Promise<void> {
  const res = await request(`${proxyUrl}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ model: 'w', stream, max_tokens: 3, messages: [{ role: 'user', content: 'a b' }] }),
    headers: { 'content-type': 'application/json', connection: 'close', 'x-request-id': requestId, ...headers },
  });
  await res.body.text();
}

const scrape = async (accept?: string) => {
  const res = await fetch(`${metricsUrl}/metrics`, { headers: accept === undefined ? {} : { accept } });
  return { type: res.headers.get('content-type'), vary: res.headers.get('vary'), text: await res.text() };
};

/** The request ids of the exemplars on `metric`'s bucket lines. */
const exemplarIds = (text: string, metric: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith(`${metric}_bucket{`) && l.includes(' # {'))
    .map((l) => /request_id="([^"]*)"/.exec(l)?.[1]);

/** tokentap's own samples (not the process's, which change between two scrapes), one string each. */
const ownSamples = (text: string) =>
  parseExposition(text)
    .filter((s) => s.name.startsWith('tokentap_') && !/^tokentap_(process|nodejs)_/.test(s.name))
    .map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`)
    .sort();

const N = 60;

describe('two workers', () => {
  it('every request counted once in the aggregate; OpenMetrics has the same counts and the exemplars', async () => {
    await Promise.all(Array.from({ length: N }, (_, i) => chat(`w-${i}`, i % 2 === 0)));
    await eventually(async () => metricSum((await scrape()).text, 'tokentap_requests_total') === N, 10_000);
    const classic = await scrape();
    const m = classic.text;
    expect(metricSum(m, 'tokentap_requests_total', { model: 'w', outcome: 'ok' })).toBe(N);
    expect(metricSum(m, 'tokentap_tokens_total', { model: 'w', type: 'completion' })).toBe(3 * N);
    expect(metricSum(m, `${TTFT}_count`, { model: 'w' })).toBe(N / 2);
    expect(metricSum(m, 'tokentap_requests_in_flight')).toBe(0);
    expect(metricSum(m, 'tokentap_upstream_up')).toBe(1); // min over workers, not their sum
    // The classic format as before: no exemplars.
    expect(classic.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(m).not.toContain(' # {');
    expect(m).not.toContain('# EOF');

    const om = await scrape(OPENMETRICS);
    expect(om.type).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(om.vary).toBe('Accept');
    expect(om.text.endsWith('\n# EOF\n')).toBe(true);
    expect(om.text).toContain('# TYPE tokentap_requests counter\n'); // OpenMetrics counter families
    expect(ownSamples(om.text)).toEqual(ownSamples(m)); // the same sums in both formats
    const sent = new Set(Array.from({ length: N }, (_, i) => `w-${i}`));
    for (const metric of [TTFT, E2E]) {
      const ids = exemplarIds(om.text, metric);
      expect(ids.length, metric).toBeGreaterThan(0);
      for (const id of ids) expect(sent.has(id!), `${metric}: ${id}`).toBe(true);
    }
  }, 60_000);

  it("each bucket's exemplar is the newest over both workers", async () => {
    // All in TTFT's (0.25, 0.5] bucket, away from the first test's: one after the other, each on the other
    // worker; the exemplar shown must be the last request's, whichever worker served it.
    for (let k = 0; k < 4; k++) {
      const id = `seq-${k}`;
      await chat(id, true, { 'x-sim-ttft-ms': '300' });
      await eventually(async () => {
        const om = (await scrape(OPENMETRICS)).text;
        return exemplarIds(om, TTFT).includes(id) && exemplarIds(om, E2E).includes(id);
      }, 10_000).catch((err: Error) => {
        throw new Error(`${err.message}: ${id} is not the newest exemplar`);
      });
      const om = (await scrape(OPENMETRICS)).text;
      for (let older = 0; older < k; older++) expect(exemplarIds(om, TTFT)).not.toContain(`seq-${older}`);
    }
  }, 60_000);

  it.skipIf(skipPrometheus)('a real Prometheus scrapes the primary in OpenMetrics and stores the exemplars', async () => {
    const promApi = <T>(path: string, params: Record<string, string> = {}) => prom!.data<T>(path, params);
    const stored = async (metric: string) => {
      const data = await promApi<{ seriesLabels: Record<string, string>; exemplars: { labels: Record<string, string>; value: string }[] }[]>(
        '/api/v1/query_exemplars',
        { query: `${metric}_bucket{job="tokentap"}`, start: String(started - 60), end: String(Date.now() / 1000 + 60) },
      );
      return data.flatMap((s) => s.exemplars.map((e) => ({ le: s.seriesLabels.le, id: e.labels.request_id, value: Number(e.value) })));
    };
    let ttft: Awaited<ReturnType<typeof stored>> = [];
    let e2e: typeof ttft = [];
    await eventually(async () => {
      ttft = await stored(TTFT);
      e2e = await stored(E2E);
      return ttft.some((e) => e.id === 'seq-3') && e2e.some((e) => e.id === 'seq-3');
    }, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\nTTFT: ${JSON.stringify(ttft)}\nE2E: ${JSON.stringify(e2e)}\nprometheus log:\n${prom!.log()}`);
    });
    for (const e of [...ttft, ...e2e]) {
      expect(e.id).toMatch(/^(w|seq)-\d+$/);
      expect(e.le === '+Inf' || e.value <= Number(e.le)).toBe(true);
    }
    const targets = await promApi<{ activeTargets: { health: string; lastError: string }[] }>('/api/v1/targets');
    expect(targets.activeTargets.map((t) => ({ health: t.health, lastError: t.lastError }))).toEqual([{ health: 'up', lastError: '' }]);
    const query = async (q: string) => (await promApi<{ result: { value: [number, string] }[] }>('/api/v1/query', { query: q })).result;
    await eventually(async () => (await query('sum(tokentap_requests_total{model="w"})'))[0]?.value[1] === String(N + 4), 10_000);
  }, 60_000);

  it('a worker killed: scrapes go on with the survivor while the replacement starts (not asked before it can answer: no 5 s wait), then include it', async () => {
    const workerPids = () =>
      execFileSync('ps', ['-o', 'pid=', '--ppid', String(child.pid)], { encoding: 'utf8' })
        .split('\n')
        .map((l) => Number(l.trim()))
        .filter((pid) => pid > 0);
    const before = workerPids();
    expect(before.length).toBe(2);
    const t0 = Date.now();
    process.kill(before[0], 'SIGKILL');
    const om = await scrape(OPENMETRICS); // while the replacement starts: the survivor's metrics
    expect(Date.now() - t0).toBeLessThan(4_000);
    expect(om.text.endsWith('\n# EOF\n')).toBe(true);
    await eventually(() => workerPids().length === 2 && !workerPids().includes(before[0]), 15_000);
    await chat('after-restart', true);
    await eventually(async () => exemplarIds((await scrape(OPENMETRICS)).text, E2E).includes('after-restart'), 10_000);
  }, 60_000);

  it('SIGTERM exits 0', async () => {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 30_000);
});
