import { describe, expect, it } from 'vitest';
import { requestCost } from '../../src/usage/cost.js';

const t = (promptTokens: number | null, completionTokens: number | null, cachedTokens: number | null = null, reasoningTokens: number | null = null) => ({
  promptTokens,
  completionTokens,
  cachedTokens,
  reasoningTokens,
});

describe('requestCost', () => {
  it('prompt and completion at input and output prices, per 1,000,000 tokens', () => {
    expect(requestCost({ input: 2.5, output: 10 }, t(1000, 200))).toBeCloseTo((1000 * 2.5 + 200 * 10) / 1e6, 15);
  });
  it('cached prompt tokens at cached_input, reasoning at reasoning; both included in prompt/completion', () => {
    const p = { input: 2, cached_input: 0.5, output: 8, reasoning: 16 };
    // (1000-600)·2 + 600·0.5 + (300-100)·8 + 100·16 = 800 + 300 + 1600 + 1600
    expect(requestCost(p, t(1000, 300, 600, 100))).toBeCloseTo(4300 / 1e6, 15);
  });
  it('without cached_input / reasoning prices, cached bills as input and reasoning as output', () => {
    expect(requestCost({ input: 2, output: 8 }, t(1000, 300, 600, 100))).toBeCloseTo((1000 * 2 + 300 * 8) / 1e6, 15);
  });
  it('null counts are zero (embeddings have no completion); impossible cached/reasoning are capped', () => {
    expect(requestCost({ input: 0.1, output: 0 }, t(500, null))).toBeCloseTo(50 / 1e6, 15);
    expect(requestCost({ input: 1, output: 1 }, t(null, null))).toBe(0);
    expect(requestCost({ input: 2, cached_input: 1, output: 4, reasoning: 0 }, t(10, 5, 50, 50))).toBeCloseTo((10 * 1 + 5 * 0) / 1e6, 15);
  });
});
