/**
 * Tracing, a collector that answers slowly enough never to time out: it sends its 200 and then one byte every
 * 200 ms. The OTLP exporter's timeout is an idle timeout on the socket, so such an export never ends; the
 * batch processor gives up on it after OTEL_BSP_EXPORT_TIMEOUT and moves on, and its spans were neither
 * exported nor counted in tokentap_trace_spans_dropped_total: the counter said 0 while every span was lost. A
 * batch the collector has not acknowledged within OTEL_BSP_EXPORT_TIMEOUT now counts as dropped (once, even
 * if the collector acknowledges it later).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, metricSum, startHostile, type Hostile } from './harness.js';

let h: Hostile;
let trickling: Server | undefined;
const ENV = { OTEL_BSP_SCHEDULE_DELAY: '20', OTEL_BSP_EXPORT_TIMEOUT: '1000', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '500' };
afterEach(async () => {
  for (const name of Object.keys(ENV)) delete process.env[name];
  trickling?.closeAllConnections();
  trickling?.close();
  await h?.close();
});

describe('a collector that trickles its answer (tracing)', () => {
  it('clients are not slowed; the spans of the exports it never finishes are counted as dropped', { timeout: 60_000 }, async () => {
    trickling = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/x-protobuf' });
        const timer = setInterval(() => res.write('\u0000'), 200); // within the exporter's 500 ms idle timeout
        res.on('close', () => clearInterval(timer));
      });
    });
    await new Promise<void>((r) => trickling!.listen(0, '127.0.0.1', r));
    Object.assign(process.env, ENV);
    h = await startHostile({ tracing_endpoint: `http://127.0.0.1:${(trickling.address() as AddressInfo).port}` });
    const sent = 20;
    for (let i = 0; i < sent; i++) {
      const t = performance.now();
      const res = await h.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"model":"m","messages":[{"role":"user","content":"hi"}]}',
      });
      expect(res.statusCode).toBe(200);
      await res.body.text();
      expect(performance.now() - t).toBeLessThan(2000);
      await new Promise((r) => setTimeout(r, 50)); // several batches
    }
    await eventually(async () => metricSum(await h.metrics(), 'tokentap_trace_spans_dropped_total') === sent, 20_000).catch(async (err: Error) => {
      throw new Error(`${err.message}: tokentap_trace_spans_dropped_total ${metricSum(await h.metrics(), 'tokentap_trace_spans_dropped_total')} of ${sent}`);
    });
    trickling.closeAllConnections(); // the exports end: a late answer changes no count
    await new Promise((r) => setTimeout(r, 500));
    expect(metricSum(await h.metrics(), 'tokentap_trace_spans_dropped_total')).toBe(sent);
  });
});
