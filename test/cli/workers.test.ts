/** --workers N: one port, N processes, and the metrics port serving the exact sum over workers. */
import { spawn } from 'node:child_process';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSimulator, type RunningSim } from '../../src/sim/server.js';
import { metricSum } from '../helpers/prom.js';
import { eventually } from '../helpers/wait.js';

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;
let sim: RunningSim;
beforeAll(async () => {
  sim = await startSimulator({ port: 0, ttftMs: 5, itlMs: 1 });
});
afterAll(() => sim.close());

it('two workers: every request counted once in the aggregate; SIGTERM exits 0', async () => {
  const child = spawn(
    process.execPath,
    [CLI, '--workers', '2', '--upstream', sim.url, '--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--log', 'off'],
    { env: { PATH: process.env.PATH } },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await eventually(() => /with 2 workers; metrics at/.test(stderr), 15_000);
  const proxyUrl = /proxying (\S+) ->/.exec(stderr)![1];
  const metricsUrl = /metrics at (\S+)\/metrics/.exec(stderr)![1];

  const N = 60;
  await Promise.all(
    Array.from({ length: N }, async (_, i) => {
      const res = await request(`${proxyUrl}/v1/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: 'w', stream: i % 2 === 0, max_tokens: 3, messages: [{ role: 'user', content: 'a b' }] }),
        headers: { 'content-type': 'application/json', connection: 'close' },
      });
      await res.body.text();
    }),
  );
  await eventually(async () => metricSum(await (await fetch(`${metricsUrl}/metrics`)).text(), 'tokentap_requests_total') === N);
  const m = await (await fetch(`${metricsUrl}/metrics`)).text();
  expect(metricSum(m, 'tokentap_requests_total', { model: 'w', outcome: 'ok' })).toBe(N);
  expect(metricSum(m, 'tokentap_tokens_total', { model: 'w', type: 'completion' })).toBe(3 * N);
  expect(metricSum(m, 'tokentap_time_to_first_token_seconds_count', { model: 'w' })).toBe(N / 2);
  expect(metricSum(m, 'tokentap_requests_in_flight')).toBe(0);
  expect(metricSum(m, 'tokentap_upstream_up')).toBe(1); // min over workers, not their sum
  // The aggregate has no exemplars: the classic format, even when the scraper asks for OpenMetrics.
  const om = await fetch(`${metricsUrl}/metrics`, { headers: { accept: 'application/openmetrics-text;version=1.0.0' } });
  expect(om.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  expect(await om.text()).not.toContain('# EOF');
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
});
