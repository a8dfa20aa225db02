/**
 * Prices, a hostile model name: a request's model is looked up in the price table by the name it names, and
 * glob entries are matched against it in O(name × glob) time, on the event loop, once per glob. Behind an
 * upstream that answers whatever model is named (llama.cpp's server, a single-model gateway), a client naming
 * a 16 MB model stalled every stream of the process for about half a second per glob, per request (body_limit
 * is 64 MiB). Names longer than MAX_GLOB_NAME match only exact entries.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_GLOB_NAME } from '../../src/usage/prices.js';
import { startForgetfulUpstream } from '../helpers/raw-upstream.js';
import { maxLoopStall, metricSum, startHostile, type Hostile } from './harness.js';

let h: Hostile;
let upstream: { close(): Promise<void> } | undefined;
afterEach(async () => {
  await h?.close();
  await upstream?.close();
});

const ANSWER = '{"object":"chat.completion","model":"m","choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":1000,"total_tokens":2000}}';


describe('a 16 MB model name against glob prices (attribution, cost)', () => {
  it('does not stall the event loop; a long name matches exact entries only, a short one its glob', { timeout: 120_000 }, async () => {
    const prices = { '*llama*': { input: 1, output: 1 }, '*-mini': { input: 1, output: 1 }, 'org/*': { input: 1, output: 1 }, '*': { input: 2, output: 2 } };
    h = await startHostile({ prices, user_from: ['body:user'] }, (upstream = await startForgetfulUpstream(ANSWER)).url);
    const send = async (model: string) => {
      const res = await h.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"model":"${model}","user":"u","messages":[{"role":"user","content":"hi"}]}`,
      });
      expect(res.statusCode).toBe(200);
      await res.body.text();
    };
    const long = `org/${'llam'.repeat(4_000_000)}`; // 16 MB, matches every glob only at its end… or not at all
    await send('warm-up-llama');
    const { stallMs } = await maxLoopStall(async () => {
      for (let i = 0; i < 3; i++) await send(long);
    });
    expect(stallMs, `event loop stalled ${stallMs.toFixed(0)} ms`).toBeLessThan(400);
    await h.expectClean(4);
    const m = await h.metrics();
    expect(metricSum(m, 'tokentap_cost_total')).toBeCloseTo(2 * 1e-3, 9); // the short name, at *llama*: 1 per 1M of 2,000 tokens
    expect(metricSum(m, 'tokentap_cost_unpriced_requests_total')).toBe(3); // the long names: no exact entry
    expect(MAX_GLOB_NAME).toBeGreaterThanOrEqual(256);
  });
});
