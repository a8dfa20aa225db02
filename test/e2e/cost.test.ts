/**
 * Cost through tokentap: for every request, the access log's `cost` and the growth of tokentap_cost_total
 * (and tokentap_user_cost_total) equal the price table times the tokens the upstream reported, cached and
 * reasoning tokens included; a model without a price adds nothing and counts as unpriced.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Price } from '../../src/usage/prices.js';
import { metricSum } from '../helpers/prom.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

const PRICES: Record<string, Price> = {
  'big-model': { input: 3, cached_input: 0.3, output: 15, reasoning: 30 },
  'small-*': { input: 0.15, output: 0.6 }, // cached bills as input, reasoning as output
  'small-special': { input: 1.1, cached_input: 0.55, output: 4.4 }, // exact beats the glob above
  'small-?ide': { input: 99, output: 99 }, // an earlier glob (small-*) wins
};

let s: Stack;
beforeAll(async () => {
  s = await startStack({ ttftMs: 2, itlMs: 1 }, { prices: PRICES, currency: 'EUR', user_from: ['header:x-team'] });
});
afterAll(() => s.close());

interface Usage {
  prompt: number;
  completion: number;
  cached: number;
  reasoning: number;
}

/** The spec's formula, written out again (not the module under test). */
function expectedCost(p: Price, u: Usage): number {
  const cachedPrice = p.cached_input ?? p.input;
  const reasoningPrice = p.reasoning ?? p.output;
  return ((u.prompt - u.cached) * p.input + u.cached * cachedPrice + (u.completion - u.reasoning) * p.output + u.reasoning * reasoningPrice) / 1e6;
}

const messages = [{ role: 'user' as const, content: 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu' }];

async function chat(team: string, model: string, maxTokens: number, cached: number, reasoning: number, stream: boolean): Promise<Usage> {
  const headers = { 'x-team': team, 'x-sim-cached-tokens': String(cached), 'x-sim-reasoning-tokens': String(reasoning) };
  let u: OpenAI.CompletionUsage;
  if (stream) {
    const st = await s.openai.chat.completions.create({ model, messages, max_tokens: maxTokens, stream: true, stream_options: { include_usage: true } }, { headers });
    let last: OpenAI.CompletionUsage | undefined;
    for await (const c of st) if (c.usage) last = c.usage;
    u = last!;
  } else {
    u = (await s.openai.chat.completions.create({ model, messages, max_tokens: maxTokens }, { headers })).usage!;
  }
  return {
    prompt: u.prompt_tokens,
    completion: u.completion_tokens,
    cached: u.prompt_tokens_details?.cached_tokens ?? 0,
    reasoning: u.completion_tokens_details?.reasoning_tokens ?? 0,
  };
}

describe('cost', () => {
  it('equals the price table times the reported tokens, per request and in total, cached and reasoning included', async () => {
    const plan: [team: string, model: string, price: Price | null, maxTokens: number, cached: number, reasoning: number][] = [
      ['red', 'big-model', PRICES['big-model'], 8, 0, 0],
      ['red', 'big-model', PRICES['big-model'], 5, 6, 0],
      ['blue', 'big-model', PRICES['big-model'], 4, 3, 7],
      ['blue', 'small-one', PRICES['small-*'], 6, 5, 4],
      ['red', 'small-special', PRICES['small-special'], 3, 8, 2],
      ['blue', 'small-wide', PRICES['small-*'], 9, 0, 3],
      ['red', 'nobody-priced-me', null, 4, 2, 1],
      ['blue', 'nobody-priced-me', null, 2, 0, 0],
    ];
    const before = s.logLines().length;
    const total = new Map<string, number>();
    const perUser = new Map<string, number>();
    const sent: { model: string; cost: number | null; usage: Usage }[] = [];
    for (const [i, [team, model, price, maxTokens, cached, reasoning]] of plan.entries()) {
      const u = await chat(team, model, maxTokens, cached, reasoning, i % 2 === 1);
      expect(u.cached, 'the simulator reported the cached tokens asked for').toBe(Math.min(cached, u.prompt));
      expect(u.reasoning).toBe(reasoning);
      const cost = price === null ? null : expectedCost(price, u);
      sent.push({ model, cost, usage: u });
      if (cost !== null) {
        total.set(model, (total.get(model) ?? 0) + cost);
        perUser.set(`${team} ${model}`, (perUser.get(`${team} ${model}`) ?? 0) + cost);
      }
    }
    await eventually(() => s.logLines().length >= before + plan.length, 10_000);

    const lines = s.logLines().slice(before);
    lines.forEach((l, i) => {
      const { model, cost, usage } = sent[i];
      expect(l.model).toBe(model);
      expect([l.prompt_tokens, l.completion_tokens, l.cached_tokens ?? 0, l.reasoning_tokens ?? 0]).toEqual([usage.prompt, usage.completion, usage.cached, usage.reasoning]);
      if (cost === null) expect(l.cost, model).toBeNull();
      else expect(l.cost, model).toBe(Math.round(cost * 1e9) / 1e9);
    });

    const m = await s.metrics();
    expect(m).toMatch(/# HELP tokentap_cost_total Cost of the requests in EUR/);
    for (const [model, cost] of total) expect(metricSum(m, 'tokentap_cost_total', { model }), model).toBeCloseTo(cost, 12);
    for (const [k, cost] of perUser) {
      const [user, model] = k.split(' ');
      expect(metricSum(m, 'tokentap_user_cost_total', { user, model }), k).toBeCloseTo(cost, 12);
    }
    expect(metricSum(m, 'tokentap_cost_total', { model: 'nobody-priced-me' })).toBe(0);
    expect(metricSum(m, 'tokentap_cost_unpriced_requests_total', { model: 'nobody-priced-me' })).toBe(2);
    expect(metricSum(m, 'tokentap_cost_unpriced_requests_total', { model: 'big-model' })).toBe(0);
    // the per-user types: cached and reasoning too
    const cachedRed = sent.filter((x, i) => plan[i][0] === 'red' && x.model === 'big-model').reduce((a, x) => a + x.usage.cached, 0);
    expect(metricSum(m, 'tokentap_user_tokens_total', { user: 'red', model: 'big-model', type: 'cached_prompt' })).toBe(cachedRed);
    expect(metricSum(m, 'tokentap_user_tokens_total', { user: 'blue', model: 'big-model', type: 'reasoning' })).toBe(7);
  });

  it('an upstream error or a non-metered request costs nothing and is not unpriced', async () => {
    const before = s.logLines().length;
    const m0 = await s.metrics();
    const err = await s.openai.chat.completions.create({ model: 'big-model', messages }, { headers: { 'x-sim-fault': 'http-500' } }).catch((e: unknown) => e);
    expect((err as { status: number }).status).toBe(500);
    await (await fetch(`${s.tap.proxyUrl}/v1/models`)).text();
    await eventually(() => s.logLines().length >= before + 2, 10_000);
    for (const l of s.logLines().slice(before)) expect(l.cost).toBeNull();
    const m = await s.metrics();
    expect(metricSum(m, 'tokentap_cost_total')).toBe(metricSum(m0, 'tokentap_cost_total'));
    expect(metricSum(m, 'tokentap_cost_unpriced_requests_total')).toBe(metricSum(m0, 'tokentap_cost_unpriced_requests_total'));
  });
});
