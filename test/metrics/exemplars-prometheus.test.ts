/**
 * The OpenMetrics exposition and its exemplars against a real Prometheus: the `prometheus` binary (Debian
 * package prometheus) with `--enable-feature=exemplar-storage` scrapes tokentap every second, asking for
 * OpenMetrics as it does by default. It must ingest the whole exposition without a scrape error, store the
 * TTFT and E2E exemplars with the request ids the clients sent, and a trace id where the request had one (set
 * on the in-flight Exchange as tracing sets it): with a request id too long to fit beside it, the exemplar
 * keeps the trace id alone, which Prometheus accepts (it rejects label sets over 128 characters). A second
 * target records the Accept header Prometheus sends, which scrapeFormat must read as OpenMetrics.
 * Without the binary the file is skipped with a line saying so; under CI=true it fails instead.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrapeFormat } from '../../src/metrics/openmetrics.js';
import { requireBinary, skipWithout } from '../deploy/helpers.js';
import { metricSum } from '../helpers/prom.js';
import { startPrometheus, type RunningPrometheus } from '../helpers/prometheus.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { eventually } from '../helpers/wait.js';

const skip = skipWithout('prometheus');

let stack: Stack;
let prom: RunningPrometheus | undefined;
let recorder: Server | undefined;
const acceptSeen: string[] = [];
const started = Date.now() / 1000;

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const LONG_ID = `long-${'x'.repeat(95)}`; // 100 characters: fits alone (≤ 118), not beside a trace id (≤ 78)

const promApi = <T>(path: string, params: Record<string, string> = {}) => prom!.data<T>(path, params);

/** A streaming chat request with this x-request-id, read to the end. `traceId`: set on its Exchange while the
 * upstream is still before its first token, as tracing would set it. */
async function chat(requestId: string, traceId?: string): Promise<void> {
  const res = fetch(`${stack.tap.proxyUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId, 'x-sim-ttft-ms': traceId ? '400' : '30' },
    body: JSON.stringify({ model: 'ex', stream: true, messages: [{ role: 'user', content: 'hello' }] }),
  });
  if (traceId !== undefined) {
    await eventually(() => stack.tap.active.toArray().some((e) => e.requestId === requestId), 5_000);
    const exchange = stack.tap.active.toArray().find((e) => e.requestId === requestId)!;
    exchange.traceId = traceId;
  }
  await (await res).text();
}

interface ExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}

/** The exemplars Prometheus stored for `metric`'s buckets, flattened with their series' `le`. */
async function exemplars(metric: string) {
  const data = await promApi<ExemplarSeries[]>('/api/v1/query_exemplars', {
    query: `${metric}_bucket{job="tokentap"}`,
    start: String(started - 60),
    end: String(Date.now() / 1000 + 60),
  });
  return data.flatMap((s) => s.exemplars.map((e) => ({ le: s.seriesLabels.le, ...e })));
}

beforeAll(async () => {
  if (skip) return;
  const prometheus = requireBinary('prometheus');
  stack = await startStack({ ttftMs: 30, itlMs: 2, outputTokens: 4 });
  recorder = createServer((req, res) => {
    acceptSeen.push(req.headers.accept ?? '');
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end('# TYPE recorder_up gauge\nrecorder_up 1\n');
  });
  await new Promise<void>((r) => recorder!.listen(0, '127.0.0.1', r));
  const recorderPort = (recorder.address() as { port: number }).port;
  prom = await startPrometheus(prometheus, {
    global: { scrape_interval: '1s', scrape_timeout: '1s' },
    scrape_configs: [
      { job_name: 'tokentap', static_configs: [{ targets: [new URL(stack.tap.metricsUrl).host] }] },
      { job_name: 'recorder', static_configs: [{ targets: [`127.0.0.1:${recorderPort}`] }] },
    ],
  });
  await prom.ready();
}, 60_000);

afterAll(async () => {
  await prom?.close();
  await stack?.close();
  if (recorder) await new Promise((r) => recorder!.close(r));
}, 30_000);

describe.skipIf(skip)('exemplars in a real Prometheus', () => {
  it('Prometheus asks for OpenMetrics, ingests it without error, and stores the request ids and trace ids', async () => {
    // Each phase scraped before the next: a bucket's exemplar is the latest request in it.
    let ttft: Awaited<ReturnType<typeof exemplars>> = [];
    let e2e: typeof ttft = [];
    const stored = (has: (e: (typeof ttft)[number]) => boolean) =>
      eventually(async () => {
        ttft = await exemplars('tokentap_time_to_first_token_seconds');
        e2e = await exemplars('tokentap_request_duration_seconds');
        return ttft.some(has) && e2e.some(has); // both TTFT and E2E
      }, 30_000).catch((err: Error) => {
        throw new Error(`${err.message}\nTTFT exemplars: ${JSON.stringify(ttft)}\nE2E exemplars: ${JSON.stringify(e2e)}\nprometheus log:\n${prom!.log()}`);
      });
    await chat('req-plain-1');
    await stored((e) => e.labels.request_id === 'req-plain-1');
    await chat('req-traced-2', TRACE_ID);
    await stored((e) => e.labels.request_id === 'req-traced-2');
    await chat(LONG_ID, TRACE_ID);
    await stored((e) => e.labels.request_id === undefined);

    for (const list of [ttft, e2e]) {
      const plain = list.find((e) => e.labels.request_id === 'req-plain-1')!;
      expect(plain.labels).toEqual({ request_id: 'req-plain-1' });
      const traced = list.find((e) => e.labels.request_id === 'req-traced-2')!;
      expect(traced.labels).toEqual({ request_id: 'req-traced-2', trace_id: TRACE_ID });
      // The long id does not fit beside the trace id: the exemplar keeps the trace id alone.
      expect(list.some((e) => e.labels.request_id === undefined && e.labels.trace_id === TRACE_ID)).toBe(true);
      expect(list.some((e) => e.labels.request_id === LONG_ID)).toBe(false);
      for (const e of list) {
        expect(Number(e.value)).toBeGreaterThan(0); // the observed seconds…
        expect(e.le === '+Inf' || Number(e.value) <= Number(e.le)).toBe(true); // …within its bucket
        expect(e.timestamp).toBeGreaterThan(started - 5); // seconds since the epoch, when it was observed
        expect(e.timestamp).toBeLessThan(Date.now() / 1000 + 5);
      }
    }
    // The traced requests waited 400 ms for their first token: their TTFT exemplars say so.
    expect(Number(ttft.find((e) => e.labels.request_id === 'req-traced-2')!.value)).toBeGreaterThanOrEqual(0.4);

    // No scrape error; the same values as the classic text.
    const targets = await promApi<{ activeTargets: { labels: { job: string }; health: string; lastError: string }[] }>('/api/v1/targets');
    const tap = targets.activeTargets.find((t) => t.labels.job === 'tokentap')!;
    expect({ health: tap.health, lastError: tap.lastError }).toEqual({ health: 'up', lastError: '' });
    const query = async (q: string) => (await promApi<{ result: { value: [number, string] }[] }>('/api/v1/query', { query: q })).result;
    await eventually(async () => (await query('sum(tokentap_requests_total{model="ex"})'))[0]?.value[1] === '3', 10_000);
    const classic = await stack.metrics();
    expect(metricSum(classic, 'tokentap_requests_total', { model: 'ex' })).toBe(3);
    expect((await query('sum(tokentap_time_to_first_token_seconds_count{model="ex"})'))[0].value[1]).toBe('3');
    // prom-client's counters too, under their classic names (family without _total, samples with it)
    expect((await query('tokentap_process_cpu_user_seconds_total')).length).toBe(1);
    expect((await query('tokentap_nodejs_eventloop_lag_seconds')).length).toBe(1);

    // What Prometheus asks for, read as OpenMetrics.
    expect(acceptSeen.length).toBeGreaterThan(0);
    expect(acceptSeen[0]).toContain('application/openmetrics-text');
    expect(scrapeFormat(acceptSeen[0])).toBe('openmetrics');
  }, 90_000);
});
