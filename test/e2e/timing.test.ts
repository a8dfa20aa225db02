/**
 * Timings end to end against the simulator's scripted schedule: the role chunk goes out at once, the first
 * token after ttft, then one token every itl. Windows are wide enough for a loaded 2-core machine and narrow
 * enough to tell TTFT from the role chunk's time and from E2E.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { metricSum } from '../helpers/prom.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack({ ttftMs: 300, itlMs: 40 });
});
afterAll(() => s.close());

const TTFT = 300;
const ITL = 40;
const TOKENS = 6;

it('TTFT, ITL, TPOT and E2E follow the upstream schedule', async () => {
  const stream = await s.openai.chat.completions.create({
    model: 'timed',
    messages: [{ role: 'user', content: 'hi' }],
    max_tokens: TOKENS,
    stream: true,
  });
  for await (const _ of stream) void _;
  await eventually(() => s.logLines().length === 1);
  const line = s.logLines()[0] as Record<string, number>;

  expect(line.ttft_ms).toBeGreaterThanOrEqual(TTFT); // not the role chunk, sent at ~0 ms
  expect(line.ttft_ms).toBeLessThan(TTFT + 150);
  expect(line.ttfc_ms).toBe(line.ttft_ms);
  expect(line.tpot_ms).toBeGreaterThan(ITL * 0.75);
  expect(line.tpot_ms).toBeLessThan(ITL * 2);
  const lastToken = TTFT + (TOKENS - 1) * ITL;
  expect(line.e2e_ms).toBeGreaterThanOrEqual(lastToken);
  expect(line.e2e_ms).toBeLessThan(lastToken + 200);
  expect(line.e2e_ms - line.ttft_ms).toBeGreaterThanOrEqual((TOKENS - 1) * ITL - 5); // E2E is not TTFT

  const m = await s.metrics();
  const labels = { model: 'timed', endpoint: 'chat_completions' };
  expect(metricSum(m, 'tokentap_time_to_first_token_seconds_sum', labels)).toBeCloseTo(line.ttft_ms / 1000, 5);
  expect(metricSum(m, 'tokentap_inter_token_latency_seconds_count', labels)).toBe(TOKENS - 1);
  const itlSum = metricSum(m, 'tokentap_inter_token_latency_seconds_sum', labels);
  expect(itlSum).toBeCloseTo(((TOKENS - 1) * line.tpot_ms) / 1000, 4); // sum of gaps = last − first (log rounds to µs)
  // TTFT histogram: the 0.25 bucket is empty, the 0.5 bucket has it
  expect(metricSum(m, 'tokentap_time_to_first_token_seconds_bucket', { ...labels, le: '0.25' })).toBe(0);
  expect(metricSum(m, 'tokentap_time_to_first_token_seconds_bucket', { ...labels, le: '0.5' })).toBe(1);
  expect(metricSum(m, 'tokentap_request_duration_seconds_count', { ...labels, stream: 'true', outcome: 'ok' })).toBe(1);
});

it('client abort against the simulator: upstream sees the abort, tokens so far are counted', async () => {
  const aborted: number[] = [];
  s.sim.events.on('abort', (e: { at: number }) => aborted.push(e.at));
  const ac = new AbortController();
  const stream = await s.openai.chat.completions.create(
    { model: 'aborter', messages: [{ role: 'user', content: 'hi' }], max_tokens: 50, stream: true },
    { signal: ac.signal, headers: { 'x-sim-ttft-ms': '10', 'x-sim-itl-ms': '20' } },
  );
  let tokens = 0;
  let abortAt = 0;
  // the SDK ends the iteration (or throws) once aborted; either way the client is gone
  await (async () => {
    for await (const c of stream) {
      if (c.choices[0]?.delta?.content) tokens++;
      if (tokens === 3 && abortAt === 0) {
        abortAt = performance.now();
        ac.abort();
      }
    }
  })().catch(() => {});
  await eventually(() => aborted.length === 1);
  expect(aborted[0] - abortAt).toBeLessThan(100);
  await eventually(() => s.logLines().length === 2);
  const line = s.logLines()[1] as Record<string, unknown>;
  expect(line).toMatchObject({ model: 'aborter', outcome: 'client_aborted', status: 200, usage: 'estimated' });
  expect(line.completion_tokens).toBeGreaterThanOrEqual(3);
  expect(line.completion_tokens).toBeLessThan(10);
  expect(s.sim.stats.aborted).toBe(1);
});
