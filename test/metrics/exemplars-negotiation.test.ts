/**
 * Which format a scrape gets: scrapeFormat on Accept headers (Prometheus's own among them), the metrics app
 * serving each format with its content type from its own shared render, and a real tokentap whose OpenMetrics
 * scrape carries the exemplar of a request sent through it while its classic scrape stays as it was.
 */
import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMetricsApp } from '../../src/metrics/app.js';
import { OPENMETRICS_CONTENT_TYPE, scrapeFormat } from '../../src/metrics/openmetrics.js';
import { metricSum } from '../helpers/prom.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { eventually } from '../helpers/wait.js';

/** What Prometheus 2.x sends (scrape/scrape.go), OpenMetrics first. */
const PROMETHEUS_2 =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
/** The shape Prometheus 3 sends (scrape_protocols, weights counting down, escaping parameters). */
const PROMETHEUS_3 =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';

describe('scrapeFormat', () => {
  it.each([
    [undefined, 'classic'],
    ['', 'classic'],
    ['*/*', 'classic'],
    ['text/plain', 'classic'],
    ['text/plain;version=0.0.4', 'classic'],
    ['application/json, */*;q=0.5', 'classic'],
    ['application/*', 'classic'], // OpenMetrics only when named
    [PROMETHEUS_2, 'openmetrics'],
    [PROMETHEUS_3, 'openmetrics'],
    ['application/openmetrics-text', 'openmetrics'],
    ['Application/OpenMetrics-Text; version=1.0.0', 'openmetrics'],
    ['application/openmetrics-text;version=0.0.1', 'openmetrics'],
    ['application/openmetrics-text;q=0', 'classic'],
    ['application/openmetrics-text;q=0, text/plain', 'classic'],
    ['application/openmetrics-text;version=1.0.0;q=0, */*;q=0.1', 'classic'],
    ['application/openmetrics-text;version=2.0.0', 'classic'], // a version we do not write
    ['text/plain;version=0.0.4;q=1, application/openmetrics-text;q=0.5', 'classic'],
    ['text/*;q=0.9, application/openmetrics-text;q=0.5', 'classic'],
    ['*/*;q=0.9, application/openmetrics-text;q=0.5', 'classic'],
    ['text/plain;q=0.2, */*;q=1, application/openmetrics-text;q=0.5', 'openmetrics'], // text/plain's own q counts
    ['application/openmetrics-text, text/plain', 'openmetrics'], // named, and no less wanted
    ['garbage;;;,,, ;q=', 'classic'],
  ] as const)('%s → %s', (accept, format) => {
    expect(scrapeFormat(accept)).toBe(format);
  });
});

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(options: Omit<Parameters<typeof createMetricsApp>[0], 'ready' | 'contentType'>) {
  const app = createMetricsApp({ ...options, contentType: 'text/plain; version=0.0.4; charset=utf-8', ready: async () => true });
  const server = createAdaptorServer({ fetch: app.fetch, overrideGlobalObjects: false }) as Server;
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
}

describe('/metrics content negotiation', () => {
  it('each format with its content type; concurrent scrapes of one format share one render', async () => {
    const renders = { classic: 0, openMetrics: 0 };
    const url = await serve({
      exposition: async () => (renders.classic++, ['x_total 1\n']),
      openMetrics: async () => {
        renders.openMetrics++;
        await new Promise((r) => setTimeout(r, 20));
        return ['x_total 1\n', '# EOF\n'];
      },
    });
    const get = async (accept?: string) => {
      const res = await fetch(url, { headers: accept === undefined ? {} : { accept } });
      return { type: res.headers.get('content-type'), vary: res.headers.get('vary'), body: await res.text() };
    };
    const classic = { type: 'text/plain; version=0.0.4; charset=utf-8', vary: 'Accept', body: 'x_total 1\n' };
    const om = { type: 'application/openmetrics-text; version=1.0.0; charset=utf-8', vary: 'Accept', body: 'x_total 1\n# EOF\n' };
    expect(OPENMETRICS_CONTENT_TYPE).toBe(om.type);
    expect(await get()).toEqual(classic);
    expect(await get('*/*')).toEqual(classic);
    expect(await get('application/openmetrics-text;q=0')).toEqual(classic);
    expect(await Promise.all([get(PROMETHEUS_2), get(PROMETHEUS_2), get(PROMETHEUS_3)])).toEqual([om, om, om]);
    expect(renders.openMetrics).toBe(1);
  });

  it('without an OpenMetrics render: the classic format, whatever the Accept', async () => {
    const url = await serve({ exposition: async () => 'x_total 1\n' });
    const res = await fetch(url, { headers: { accept: PROMETHEUS_2 } });
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.headers.get('vary')).toBeNull();
    expect(await res.text()).toBe('x_total 1\n');
  });
});

describe('a real tokentap', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ttftMs: 20, itlMs: 2, outputTokens: 3 });
  });
  afterAll(() => stack.close());

  it("an OpenMetrics scrape has the request's exemplar on its TTFT and E2E buckets; the classic scrape has none", async () => {
    const stream = await stack.openai.chat.completions.create(
      { model: 'neg', stream: true, messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'x-request-id': 'client-id-42' } },
    );
    for await (const _ of stream) void _;
    await eventually(async () => metricSum(await stack.metrics(), 'tokentap_requests_total', { model: 'neg' }) === 1);
    const res = await fetch(`${stack.tap.metricsUrl}/metrics`, { headers: { accept: PROMETHEUS_2 } });
    expect(res.headers.get('content-type')).toBe(OPENMETRICS_CONTENT_TYPE);
    const om = await res.text();
    const lines = (name: string) => om.split('\n').filter((l) => l.startsWith(`${name}_bucket{model="neg"`) && l.includes(' # {'));
    for (const name of ['tokentap_time_to_first_token_seconds', 'tokentap_request_duration_seconds']) {
      expect(lines(name), name).toHaveLength(1);
      const m = / # \{request_id="client-id-42"\} (\S+) (\d+\.\d{3})$/.exec(lines(name)[0]);
      expect(m, lines(name)[0]).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThanOrEqual(0.02); // at least the simulator's TTFT
      expect(Math.abs(Number(m![2]) - Date.now() / 1000)).toBeLessThan(60);
    }
    // the plain histograms carry none
    expect(om.split('\n').filter((l) => l.includes(' # {') && !/^tokentap_(time_to_first_token|request_duration)_seconds_bucket/.test(l))).toEqual([]);
    expect(om.endsWith('\n# EOF\n')).toBe(true);
    const classic = await stack.metrics();
    expect(classic).not.toContain('# {');
    expect(classic).not.toContain('# EOF');
    expect(metricSum(classic, 'tokentap_time_to_first_token_seconds_count', { model: 'neg' })).toBe(1);
  });
});
