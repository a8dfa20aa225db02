/**
 * The price table (`prices`): per model name or glob, the price of 1,000,000 tokens of each kind. An exact
 * name wins over globs, then the first glob that matches, in the file's order. Looked up by the model name
 * the request names (not its bounded label: `other` has no price). Pure.
 */

/** Prices per 1,000,000 tokens, in the config's `currency`. */
export interface Price {
  input: number;
  /** Cached prompt tokens; the input price when absent. */
  cached_input?: number;
  output: number;
  /** Reasoning tokens (part of the completion); the output price when absent. */
  reasoning?: number;
}

/** Names whose glob lookups are remembered (model names are client input: the memory is bounded)… */
const CACHE_ENTRIES = 512;
/** …when at most this long. */
const CACHE_MAX_LENGTH = 256;

/**
 * Longer names are matched against exact entries only. Matching a glob takes O(name × glob) on the event loop,
 * and a client names the model (up to body_limit, 64 MiB): behind an upstream that answers any name, a 16 MB
 * name stalled every stream for half a second per glob. No model is named with a kilobyte.
 */
export const MAX_GLOB_NAME = 1024;

const isGlob = (key: string): boolean => key.includes('*') || key.includes('?');

/**
 * `name` matches `glob` (`*`: any run of characters, `/` included; `?`: exactly one). The two-pointer
 * match with one backtrack point: time O(name × glob) at worst, never exponential (a RegExp of several `.*`
 * can be, on a long hostile name).
 */
export function globMatch(glob: string, name: string): boolean {
  let g = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    const c = glob[g];
    if (c === '*') {
      star = g++;
      resume = n;
    } else if (g < glob.length && (c === '?' || c === name[n])) {
      g++;
      n++;
    } else if (star >= 0) {
      g = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (glob[g] === '*') g++;
  return g === glob.length;
}

export class PriceTable {
  private readonly exact = new Map<string, Price>();
  private readonly globs: [string, Price][] = [];
  private readonly matched = new Map<string, Price | null>();

  constructor(prices: Record<string, Price>) {
    // Object keys keep insertion (file) order except integer-like ones, which cannot be globs.
    for (const [key, price] of Object.entries(prices)) {
      if (isGlob(key)) this.globs.push([key, price]);
      else this.exact.set(key, price);
    }
  }

  get size(): number {
    return this.exact.size + this.globs.length;
  }

  /** The price of `model`, or null when none is configured (or the request names no model). */
  lookup(model: string | undefined): Price | null {
    if (model === undefined) return null;
    const exact = this.exact.get(model);
    if (exact !== undefined) return exact;
    if (this.globs.length === 0 || model.length > MAX_GLOB_NAME) return null;
    const known = this.matched.get(model);
    if (known !== undefined) return known;
    let found: Price | null = null;
    for (const [glob, price] of this.globs) {
      if (globMatch(glob, model)) {
        found = price;
        break;
      }
    }
    if (model.length <= CACHE_MAX_LENGTH) {
      if (this.matched.size >= CACHE_ENTRIES) this.matched.clear();
      this.matched.set(model, found);
    }
    return found;
  }
}
