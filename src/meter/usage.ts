/** Token usage as reported by the upstream, normalised across Chat/Completions and Responses shapes. Pure. */

export interface Usage {
  prompt: number | null;
  completion: number | null;
  cached: number | null;
  reasoning: number | null;
}

/**
 * The largest token count believed. Counts go straight into Prometheus counters, so a hostile or broken
 * upstream must not be able to add 1e308 (or 0.5) to them; 1e9 is far above any real context window.
 */
export const MAX_USAGE_TOKENS = 1e9;

/** What checkUsage returns for a usage object with a count that cannot be true. */
export const USAGE_REJECTED = 'rejected';

type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj | null => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null);

/** A token field: null when absent, undefined when present but not a count (the whole object is then rejected). */
function count(v: unknown): number | null | undefined {
  if (v === undefined || v === null) return null;
  return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_USAGE_TOKENS ? (v as number) : undefined;
}

function build(prompt: unknown, completion: unknown, inDetails: unknown, outDetails: unknown): Usage | typeof USAGE_REJECTED {
  const p = count(prompt);
  const c = count(completion);
  const cached = count(obj(inDetails)?.cached_tokens);
  const reasoning = count(obj(outDetails)?.reasoning_tokens);
  // One bad field discredits the others: they come from the same (broken or lying) accounting.
  if (p === undefined || c === undefined || cached === undefined || reasoning === undefined) return USAGE_REJECTED;
  return { prompt: p, completion: c, cached, reasoning };
}

/**
 * Reads a `usage` object: `prompt_tokens`/`completion_tokens` (+ `prompt_tokens_details.cached_tokens`,
 * `completion_tokens_details.reasoning_tokens`) or the Responses API's `input_tokens`/`output_tokens`
 * (+ `input_tokens_details`, `output_tokens_details`). Returns null when it is not a usage object, and
 * USAGE_REJECTED when a count that is present is not an integer in [0, MAX_USAGE_TOKENS]. Absent or null
 * counts read as null.
 */
export function checkUsage(value: unknown): Usage | typeof USAGE_REJECTED | null {
  const u = obj(value);
  if (!u) return null;
  if ('prompt_tokens' in u || 'completion_tokens' in u) {
    return build(u.prompt_tokens, u.completion_tokens, u.prompt_tokens_details, u.completion_tokens_details);
  }
  if ('input_tokens' in u || 'output_tokens' in u) {
    return build(u.input_tokens, u.output_tokens, u.input_tokens_details, u.output_tokens_details);
  }
  return null;
}

/** checkUsage for a caller that does not need to know about rejections: a rejected object reads as no usage. */
export function readUsage(value: unknown): Usage | null {
  const u = checkUsage(value);
  return u === USAGE_REJECTED ? null : u;
}
