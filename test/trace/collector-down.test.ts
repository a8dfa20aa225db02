/**
 * The collector is down (a closed port) or stalls (takes the export and never answers): clients get the same
 * status and bytes as with tracing off, the spans that cannot be exported are counted in
 * tokentap_trace_spans_dropped_total, and shutdown does not wait on the collector past its bound.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTokentap, type RunningTokentap } from '../../src/server.js';
import { SHUTDOWN_FLUSH_MS } from '../../src/trace/settings.js';
import { freePort } from '../helpers/ports.js';
import { metricSum, scrape } from '../helpers/prom.js';
import { CHAT_COMPLETION_ANSWER, startRawUpstream, type RawUpstream } from '../helpers/raw-upstream.js';
import { eventually } from '../helpers/wait.js';

const SSE_ANSWER =
  ['a', 'b', 'c'].map((t) => `data: {"id":"c2","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"${t}"}}]}\n\n`).join('') +
  'data: [DONE]\n\n';

let upstream: RawUpstream;
beforeAll(async () => {
  upstream = await startRawUpstream((_req, res, body) => {
    if (body.includes('"stream":true')) res.writeHead(200, { 'content-type': 'text/event-stream' }).end(SSE_ANSWER);
    else res.writeHead(200, { 'content-type': 'application/json' }).end(CHAT_COMPLETION_ANSWER);
  });
});
afterAll(() => upstream?.close());

const start = (fields: Record<string, unknown>, env: Record<string, string> = {}) =>
  startTokentap({ upstream: upstream.url, host: '127.0.0.1', port: 0, metrics_host: '127.0.0.1', metrics_port: 0, access_log: 'off', ...fields }, { env });

/** A streamed and a non-streamed request: what the client got, byte for byte. */
async function exchange(tap: RunningTokentap): Promise<{ status: number; type: string | null; body: string }[]> {
  const out = [];
  for (const stream of [true, false]) {
    const res = await fetch(`${tap.proxyUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', stream, messages: [{ role: 'user', content: 'x' }] }),
    });
    out.push({ status: res.status, type: res.headers.get('content-type'), body: await res.text() });
  }
  return out;
}

const dropped = async (tap: RunningTokentap) => metricSum(await scrape(tap.metricsUrl), 'tokentap_trace_spans_dropped_total');

describe('a collector that is down or stalls', () => {
  it('a closed port: clients get what they get with tracing off; every span is counted as dropped', async () => {
    const off = await start({});
    const expected = await exchange(off);
    expect(await scrape(off.metricsUrl)).not.toContain('tokentap_trace_spans_dropped_total'); // tracing off: not declared
    await off.close();
    expect(expected.map((e) => e.body)).toEqual([SSE_ANSWER, CHAT_COMPLETION_ANSWER]);

    const dead = `http://127.0.0.1:${await freePort()}`;
    // the exporter retries a refused connection until its timeout (10 s by default): 200 ms here
    const tap = await start({ tracing_endpoint: dead }, { OTEL_BSP_SCHEDULE_DELAY: '10', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '200' });
    try {
      expect(await scrape(tap.metricsUrl)).toMatch(/^tokentap_trace_spans_dropped_total 0$/m); // exposed at 0 once tracing is on
      for (let round = 0; round < 3; round++) expect(await exchange(tap)).toEqual(expected);
      await eventually(async () => (await dropped(tap)) === 6, 15_000);
      const closing = performance.now();
      await tap.close();
      expect(performance.now() - closing).toBeLessThan(SHUTDOWN_FLUSH_MS + 2000);
    } finally {
      await tap.close();
    }
  }, 40_000);

  it('a stalled collector: the queue bound drops (and counts) the excess, requests are not slowed, shutdown is bounded', async () => {
    const stalled: Server = createServer(() => {}); // takes the export, never answers
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(stalled.address() as AddressInfo).port}`;
    // queue 2, batch 2: spans 1-2 go to an export that never ends, 3-4 wait in the queue, 5-6 find it full
    const tap = await start({ tracing_endpoint: url }, { OTEL_BSP_MAX_QUEUE_SIZE: '2', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2', OTEL_BSP_SCHEDULE_DELAY: '60000' });
    try {
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        const got = await exchange(tap);
        expect(got.map((g) => [g.status, g.body])).toEqual([[200, SSE_ANSWER], [200, CHAT_COMPLETION_ANSWER]]);
        expect(performance.now() - t).toBeLessThan(5000);
      }
      await eventually(async () => (await dropped(tap)) === 2, 5000);
      const closing = performance.now();
      await tap.close();
      expect(performance.now() - closing).toBeLessThan(SHUTDOWN_FLUSH_MS + 2000);
    } finally {
      await tap.close();
      stalled.closeAllConnections();
      await new Promise<void>((resolve) => stalled.close(() => resolve()));
    }
  }, 40_000);
});
