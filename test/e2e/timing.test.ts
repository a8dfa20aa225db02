/**
 * Timings end to end against the simulator's scripted schedule: the role chunk goes out at once, the first
 * token after ttft, then one token every itl. Lower bounds are exact (nothing arrives early); upper bounds
 * leave 350-400 ms for a loaded 2-core CI runner (which has stalled a test for 219 ms) and still tell TTFT
 * from the role chunk's time and from E2E. TPOT is checked by identities that hold however the machine runs.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { metricSum } from '../helpers/prom.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

const TTFT = 300;
const ITL = 80;
const TOKENS = 6;

let s: Stack;
beforeAll(async () => {
  s = await startStack({ ttftMs: TTFT, itlMs: ITL });
});
afterAll(() => s.close());

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
  expect(line.ttft_ms).toBeLessThan(TTFT + 350); // < the last token's 700 ms
  expect(line.ttfc_ms).toBe(line.ttft_ms);
  const lastToken = TTFT + (TOKENS - 1) * ITL;
  expect(line.e2e_ms).toBeGreaterThanOrEqual(lastToken);
  expect(line.e2e_ms).toBeLessThan(lastToken + 400);
  // TPOT = (last token − first token) / (tokens − 1). The simulator keeps an absolute schedule, so a stall
  // can shorten the gaps after it but never bring the last token before 700 ms: these bounds hold exactly.
  expect(line.tpot_ms).toBeGreaterThanOrEqual((lastToken - line.ttft_ms) / (TOKENS - 1) - 0.01);
  expect(line.tpot_ms).toBeLessThanOrEqual((line.e2e_ms - line.ttft_ms) / (TOKENS - 1) + 0.01); // E2E is not TTFT

  const m = await s.metrics();
  const labels = { model: 'timed', endpoint: 'chat_completions' };
  expect(metricSum(m, 'tokentap_time_to_first_token_seconds_sum', labels)).toBeCloseTo(line.ttft_ms / 1000, 5);
  expect(metricSum(m, 'tokentap_inter_token_latency_seconds_count', labels)).toBe(TOKENS - 1);
  const itlSum = metricSum(m, 'tokentap_inter_token_latency_seconds_sum', labels);
  expect(itlSum).toBeCloseTo(((TOKENS - 1) * line.tpot_ms) / 1000, 4); // sum of gaps = last − first (log rounds to µs)
  // TTFT histogram: the 0.25 bucket is empty; the 0.5 bucket has it unless the machine stalled it past 500 ms
  expect(metricSum(m, 'tokentap_time_to_first_token_seconds_bucket', { ...labels, le: '0.25' })).toBe(0);
  expect(metricSum(m, 'tokentap_time_to_first_token_seconds_bucket', { ...labels, le: '0.5' })).toBe(line.ttft_ms < 500 ? 1 : 0);
  expect(metricSum(m, 'tokentap_time_to_first_token_seconds_bucket', { ...labels, le: '+Inf' })).toBe(1);
  expect(metricSum(m, 'tokentap_request_duration_seconds_count', { ...labels, stream: 'true', outcome: 'ok' })).toBe(1);
});

it('client abort against the simulator: upstream sees the abort, tokens so far are counted', async () => {
  // Regression (CI, loaded runner): this test once asserted that the abort reached upstream within 100 ms
  // and failed at 219 ms. What matters is that it reaches upstream at all, long before the stream's natural
  // end: 200 tokens every 100 ms is 20 s, and `eventually` gives up after 3 s. The 100 ms gap also leaves
  // room for several hundred ms of scheduling delay before the token count below would move.
  const ac = new AbortController();
  const stream = await s.openai.chat.completions.create(
    { model: 'aborter', messages: [{ role: 'user', content: 'hi' }], max_tokens: 200, stream: true },
    { signal: ac.signal, headers: { 'x-sim-ttft-ms': '10', 'x-sim-itl-ms': '100' } },
  );
  let tokens = 0;
  // the SDK ends the iteration (or throws) once aborted; either way the client is gone
  await (async () => {
    for await (const c of stream) {
      if (c.choices[0]?.delta?.content) tokens++;
      if (tokens === 3) ac.abort();
    }
  })().catch(() => {});
  // the simulator counts the stream as aborted, not completed: tokentap cancelled upstream instead of draining it
  await eventually(() => s.sim.stats.aborted === 1);
  await eventually(() => s.logLines().length === 2);
  const line = s.logLines()[1] as Record<string, unknown>;
  expect(line).toMatchObject({ model: 'aborter', outcome: 'client_aborted', status: 200, usage: 'estimated' });
  expect(line.completion_tokens).toBeGreaterThanOrEqual(3);
  expect(line.completion_tokens).toBeLessThan(10);
});
