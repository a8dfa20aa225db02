/**
 * Live metering, against the simulator: TTFT, time to first content, ITL and completion tokens are observed
 * while a stream runs, not when it ends; at the end the completion counter equals the reported usage.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricSum } from '../helpers/prom.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ ttftMs: 50, itlMs: 100 });
});
afterAll(() => stack.close());

async function stream(headers: Record<string, string>) {
  const res = await request(`${stack.tap.proxyUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'live', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  return res;
}

describe('live metering', () => {
  it('a 1 s stream shows TTFT and rising completion tokens while it runs; the total equals the usage at the end', async () => {
    const res = await stream({ 'x-sim-output-tokens': '30', 'x-sim-tokens-per-chunk': '3' }); // 10 events of 3 tokens, 100 ms apart
    const body = res.body.text();
    const m = { model: 'live', endpoint: 'chat_completions' };
    // within a second of the first token: TTFT counted, tokens counted, the request not finished
    await eventually(async () => metricSum(await stack.metrics(), 'tokentap_time_to_first_token_seconds_count', m) === 1, 2000);
    const early = await stack.metrics();
    expect(metricSum(early, 'tokentap_time_to_first_content_seconds_count', m)).toBe(1);
    expect(metricSum(early, 'tokentap_requests_total', m)).toBe(0);
    const firstCount = metricSum(early, 'tokentap_tokens_total', { ...m, type: 'completion' });
    expect(firstCount).toBeGreaterThan(0);
    await eventually(async () => metricSum(await stack.metrics(), 'tokentap_tokens_total', { ...m, type: 'completion' }) > firstCount, 2000);
    expect(metricSum(await stack.metrics(), 'tokentap_inter_token_latency_seconds_count', m)).toBeGreaterThan(0);
    await body;
    await eventually(async () => metricSum(await stack.metrics(), 'tokentap_requests_total', m) === 1);
    const end = await stack.metrics();
    // 10 token events counted live, the other 20 tokens of the reported usage added at the end: exactly 30
    expect(metricSum(end, 'tokentap_tokens_total', { ...m, type: 'completion' })).toBe(30);
    expect(metricSum(end, 'tokentap_inter_token_latency_seconds_count', m)).toBe(9);
    expect(metricSum(end, 'tokentap_time_to_first_token_seconds_count', m)).toBe(1);
    expect(metricSum(end, 'tokentap_request_completion_tokens_sum', m)).toBe(30);
  });
});
