/**
 * The cost of one request from its token counts, with OpenAI's usage semantics: `prompt_tokens` includes
 * the cached ones and `completion_tokens` the reasoning ones, so each part is priced once:
 * ((prompt − cached)·input + cached·(cached_input ?? input) + (completion − reasoning)·output
 *  + reasoning·(reasoning ?? output)) / 1e6. Estimated usage is priced the same way (a lower bound). Pure.
 */
import type { MeterRecord } from '../meter/record.js';
import type { Price } from './prices.js';

export type TokenCounts = Pick<MeterRecord, 'promptTokens' | 'completionTokens' | 'cachedTokens' | 'reasoningTokens'>;

/** The cost in the price's currency. Cached above prompt (or reasoning above completion) is capped: never negative. */
export function requestCost(price: Price, t: TokenCounts): number {
  const prompt = t.promptTokens ?? 0;
  const completion = t.completionTokens ?? 0;
  const cached = Math.min(t.cachedTokens ?? 0, prompt);
  const reasoning = Math.min(t.reasoningTokens ?? 0, completion);
  return (
    ((prompt - cached) * price.input +
      cached * (price.cached_input ?? price.input) +
      (completion - reasoning) * price.output +
      reasoning * (price.reasoning ?? price.output)) /
    1e6
  );
}
