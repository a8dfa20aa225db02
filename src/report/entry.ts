/**
 * One access-log line as `tokentap usage` reads it: which lines are tokentap's, and the fields it uses. Pure.
 *
 * The access log (src/log/access-log.ts) is one JSON object per line. A line counts as tokentap's when it is
 * JSON with a parseable `ts`, a string `outcome` and a numeric `e2e_ms`; anything else (another program's
 * lines in the same file, a line cut by a crash, a rotated file's garbage) is counted and skipped, never fatal.
 * Fields added later (`user`, `key_id`, `cost`, `cached_tokens`, …) are null when an older log lacks them.
 */

/** The fields of one entry that the report uses (absent or ill-typed ones are null). */
export interface UsageEntry {
  /** Epoch milliseconds of `ts` (the end of the request, UTC). */
  tsMs: number;
  model: string | null;
  endpoint: string | null;
  user: string | null;
  keyId: string | null;
  /** `outcome !== 'ok'`. */
  error: boolean;
  e2eMs: number;
  ttftMs: number | null;
  promptTokens: number | null;
  completionTokens: number | null;
  cachedTokens: number | null;
  reasoningTokens: number | null;
  /** In the config's currency; null when unpriced, without tokens, or from a log older than pricing. */
  cost: number | null;
}

/** Why a line was skipped. */
export type SkipReason = 'not_json' | 'not_tokentap';

/**
 * Group-key values longer than this are cut (with `…`): a hostile or broken log cannot make each of the
 * (bounded number of) groups hold a megabyte-long key.
 */
export const MAX_KEY_CHARS = 256;

/** Token counts and latencies beyond this are not a request's (a corrupt line): read as null. */
const MAX_COUNT = 1e15;
/** A single request's cost beyond this is corrupt, not a price: read as null (keeps cost sums exact in nanos). */
const MAX_COST = 1e6;

const count = (v: unknown): number | null => (typeof v === 'number' && v >= 0 && v < MAX_COUNT ? v : null);

const label = (v: unknown): string | null =>
  typeof v !== 'string' ? null : v.length > MAX_KEY_CHARS ? `${v.slice(0, MAX_KEY_CHARS - 1)}…` : v;

/** The last `ts` second (`2026-11-30T14:05:09`) parsed, and its epoch ms: a log has many entries per second. */
let lastSecond = '';
let lastSecondMs = NaN;

/**
 * `ts` → epoch ms. tokentap writes `toISOString()` (`2026-11-30T14:05:09.123Z`): within the second last seen,
 * only the milliseconds are read; any other form goes to Date.parse.
 */
function parseTs(ts: string): number {
  if (ts.length === 24 && ts.charCodeAt(19) === 46 /* . */ && ts.charCodeAt(23) === 90 /* Z */) {
    const a = ts.charCodeAt(20) - 48;
    const b = ts.charCodeAt(21) - 48;
    const c = ts.charCodeAt(22) - 48;
    if (a >= 0 && a <= 9 && b >= 0 && b <= 9 && c >= 0 && c <= 9) {
      const second = ts.slice(0, 19);
      if (second !== lastSecond) {
        lastSecondMs = Date.parse(`${second}Z`);
        lastSecond = second;
      }
      return lastSecondMs + a * 100 + b * 10 + c;
    }
  }
  return Date.parse(ts);
}

/** The entry on `line`, or why it is not one. `line` has no trailing newline (a `\r` is tolerated). */
export function parseEntry(line: string): UsageEntry | SkipReason {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return 'not_json';
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return 'not_tokentap';
  const r = o as Record<string, unknown>;
  const { ts, outcome, e2e_ms: e2e } = r;
  if (typeof ts !== 'string' || typeof outcome !== 'string' || count(e2e) === null) return 'not_tokentap';
  const tsMs = parseTs(ts);
  if (Number.isNaN(tsMs)) return 'not_tokentap';
  const cost = r.cost;
  return {
    tsMs,
    model: label(r.model),
    endpoint: label(r.endpoint),
    user: label(r.user),
    keyId: label(r.key_id),
    error: outcome !== 'ok',
    e2eMs: e2e as number,
    ttftMs: count(r.ttft_ms),
    promptTokens: count(r.prompt_tokens),
    completionTokens: count(r.completion_tokens),
    cachedTokens: count(r.cached_tokens),
    reasoningTokens: count(r.reasoning_tokens),
    cost: typeof cost === 'number' && cost >= 0 && cost < MAX_COST ? cost : null,
  };
}
