/** The metrics port: /healthz, /readyz, the optional bearer token, and the bounded model label. */
import { createServer, type AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { PROBE_REUSE_MS } from '../../src/proxy/upstream.js';
import type { RunningTokentap } from '../../src/server.js';
import { metricSum } from '../helpers/prom.js';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream.js';
import { startTap } from '../helpers/tap.js';
import { eventually } from '../helpers/wait.js';

let up: RawUpstream | undefined;
let tap: RunningTokentap | undefined;
afterEach(async () => {
  await tap?.close();
  await up?.close();
  tap = up = undefined;
});

const start = async (extra: Record<string, unknown> = {}) => {
  up = await startRawUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"object":"list","data":[],"usage":{"prompt_tokens":2,"total_tokens":2}}');
  });
  tap = await startTap(up.url, extra);
  return tap;
};

describe('metrics port', () => {
  it('/healthz, /readyz and tokentap_upstream_up follow the upstream', async () => {
    await start();
    expect((await fetch(`${tap!.metricsUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${tap!.metricsUrl}/readyz`)).status).toBe(200);
    expect(metricSum(await (await fetch(`${tap!.metricsUrl}/metrics`)).text(), 'tokentap_upstream_up')).toBe(1);
    await up!.close();
    // the probe's answer is reused for PROBE_REUSE_MS: down within about a second
    await eventually(async () => (await fetch(`${tap!.metricsUrl}/readyz`)).status === 503);
    expect(metricSum(await (await fetch(`${tap!.metricsUrl}/metrics`)).text(), 'tokentap_upstream_up')).toBe(0);
  });

  it('200 calls to /readyz and /metrics in quick succession open a connection to the upstream about once a second', async () => {
    const upstream = createServer((socket) => socket.destroy());
    let connections = 0;
    upstream.on('connection', () => connections++);
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    try {
      tap = await startTap(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
      const started = performance.now();
      const ready = () => fetch(`${tap!.metricsUrl}/readyz`).then((r) => r.status);
      expect(await Promise.all(Array.from({ length: 100 }, ready))).toEqual(Array(100).fill(200)); // one shared probe
      for (let i = 0; i < 100; i++) expect(await ready()).toBe(200);
      expect(metricSum(await (await fetch(`${tap.metricsUrl}/metrics`)).text(), 'tokentap_upstream_up')).toBe(1);
      // one probe, then at most one more per PROBE_REUSE_MS however long a loaded machine took over the calls
      expect(connections).toBeGreaterThanOrEqual(1);
      expect(connections).toBeLessThanOrEqual(1 + Math.ceil((performance.now() - started) / PROBE_REUSE_MS));
    } finally {
      await tap?.close();
      tap = undefined;
      await new Promise((r) => upstream.close(r));
    }
  });

  it('with metrics_token, /metrics needs the bearer token', async () => {
    await start({ metrics_token: 's3cr.et-_~+/==' }); // every character token68 allows besides letters and digits
    expect((await fetch(`${tap!.metricsUrl}/metrics`)).status).toBe(401);
    expect((await fetch(`${tap!.metricsUrl}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await fetch(`${tap!.metricsUrl}/metrics`, { headers: { authorization: 'Bearer s3cr.et-_~+/==' } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/tokentap_process_cpu_seconds_total/);
  });

  it('thousands of distinct model names keep the series bounded at max_models + other', async () => {
    await start({ max_models: 10 });
    const send = (model: string) =>
      request(`${tap!.proxyUrl}/v1/embeddings`, { method: 'POST', body: JSON.stringify({ model, input: 'x' }) }).then((r) => r.body.text());
    for (let i = 0; i < 20; i++) await send(`model-${i}`);
    const sizeAfter20 = (await (await fetch(`${tap!.metricsUrl}/metrics`)).text()).length;
    for (let batch = 0; batch < 20; batch++) await Promise.all(Array.from({ length: 100 }, (_, i) => send(`m-${batch}-${i}`)));
    const text = await (await fetch(`${tap!.metricsUrl}/metrics`)).text();
    const models = new Set([...text.matchAll(/tokentap_requests_total\{model="([^"]*)"/g)].map((m) => m[1]));
    expect(models.size).toBe(11);
    expect(models.has('other')).toBe(true);
    expect(metricSum(text, 'tokentap_requests_total')).toBe(2020);
    expect(metricSum(text, 'tokentap_requests_total', { model: 'other' })).toBe(2010);
    // 2,000 more distinct names, and /metrics grew only by digits of the counters
    expect(text.length - sizeAfter20).toBeLessThan(2000);
  });
});
