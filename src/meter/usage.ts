/** Token usage as reported by the upstream, normalised across Chat/Completions and Responses shapes. Pure. */

export interface Usage {
  prompt: number | null;
  completion: number | null;
  cached: number | null;
  reasoning: number | null;
}

type Obj = Record<string, unknown>;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null);
const obj = (v: unknown): Obj | null => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null);

/**
 * Reads a `usage` object: `prompt_tokens`/`completion_tokens` (+ `prompt_tokens_details.cached_tokens`,
 * `completion_tokens_details.reasoning_tokens`) or the Responses API's `input_tokens`/`output_tokens`
 * (+ `input_tokens_details`, `output_tokens_details`). Returns null when it is not a usage object.
 */
export function readUsage(value: unknown): Usage | null {
  const u = obj(value);
  if (!u) return null;
  if ('prompt_tokens' in u || 'completion_tokens' in u) {
    return {
      prompt: num(u.prompt_tokens),
      completion: num(u.completion_tokens),
      cached: num(obj(u.prompt_tokens_details)?.cached_tokens),
      reasoning: num(obj(u.completion_tokens_details)?.reasoning_tokens),
    };
  }
  if ('input_tokens' in u || 'output_tokens' in u) {
    return {
      prompt: num(u.input_tokens),
      completion: num(u.output_tokens),
      cached: num(obj(u.input_tokens_details)?.cached_tokens),
      reasoning: num(obj(u.output_tokens_details)?.reasoning_tokens),
    };
  }
  return null;
}
