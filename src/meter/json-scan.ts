/**
 * Finds the values of chosen top-level keys in a JSON object's bytes without parsing the rest: one pass that
 * skips strings (escapes included) and nested objects/arrays by depth, so a request with a 100 KB prompt or
 * a response with a long completion costs a byte scan, not a tree of JavaScript objects. Pure.
 *
 * The body is client input, so the scan is bounded: memory is one fixed stack of MAX_JSON_DEPTH bytes, time is
 * linear in the body (no byte is revisited except the backslashes just before a quote, each once).
 */

// Byte codes stay module-local (sse-event.ts has its own): an exported const is read through a module cell
// with a hole check in these loops, measured at 650 -> 1,050 ns for one response scan.
const QUOTE = 34;
const BACKSLASH = 92;
const COLON = 58;
const COMMA = 44;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;

/**
 * Deepest nesting the scan follows, the top-level object counting as level 1; deeper is "not JSON" (the
 * caller forwards the body untouched, labelled model="unknown", usage not injected). Real chat bodies, JSON-
 * schema tools included, stay under ~40, so 256 leaves 6x headroom. Matching the upstream's own limit is not
 * possible (Python's json stops near 1,000 levels on 3.11, past 5,000 on 3.13, past 100,000 on 3.14), and the
 * number costs neither time (the scan is linear at any depth) nor memory beyond this many bytes.
 */
export const MAX_JSON_DEPTH = 256;

/** The closing byte each open level expects; allocated once (the scan is synchronous, so never shared). */
const closers = new Uint8Array(MAX_JSON_DEPTH);

/** Node's Buffer#indexOf on any Uint8Array: memchr, ~5x faster than TypedArray#indexOf on a long string. */
const memchr = Buffer.prototype.indexOf as (this: Uint8Array, value: number, byteOffset: number) => number;

/** Bytes a string is scanned by hand before memchr: a native call costs more than a short key's loop. */
const SHORT_STRING = 32;

const isSpace = (b: number): boolean => b === 32 || b === 10 || b === 13 || b === 9;

/** A top-level value's byte range [start, end) (JSON text: `"…"`, `true`, `{…}`, …). */
export interface ValueRange {
  start: number;
  end: number;
}

/** Index just past the string that opens at `i` (a quote), or -1 when it does not close before `end`. */
function skipString(b: Uint8Array, i: number, end: number): number {
  let j = i + 1;
  for (const stop = Math.min(end, j + SHORT_STRING); j < stop; j++) {
    const c = b[j];
    if (c === QUOTE) return j + 1;
    if (c === BACKSLASH) j++;
  }
  // Long string: jump from quote to quote. A quote is escaped when an odd run of backslashes precedes it
  // (`\\` pairs escape each other; no other escape ends in a backslash). Runs end at their quote, so each
  // backslash is counted at most once; the opening quote at `i` stops the count.
  while (j < end) {
    const q = memchr.call(b, QUOTE, j);
    if (q < 0 || q >= end) return -1;
    let k = q - 1;
    while (b[k] === BACKSLASH && k > i) k--;
    if (((q - 1 - k) & 1) === 0) return q + 1;
    j = q + 1;
  }
  return -1;
}

/**
 * Index just past the value that starts at `i`, or -1 when the value is malformed, cut, or nests past
 * MAX_JSON_DEPTH (counting the top-level object): it stops at the first byte over the limit.
 */
function skipValue(b: Uint8Array, i: number, end: number): number {
  const c = b[i];
  if (c === QUOTE) return skipString(b, i, end);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    let depth = 0; // open levels inside the top-level object
    for (let j = i; j < end; j++) {
      const d = b[j];
      if (d === QUOTE) {
        j = skipString(b, j, end) - 1;
        if (j < 0) return -1;
      } else if (d === OPEN_BRACE || d === OPEN_BRACKET) {
        if (depth === MAX_JSON_DEPTH - 1) return -1;
        closers[depth++] = d === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET;
      } else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
        if (depth === 0 || closers[--depth] !== d) return -1;
        if (depth === 0) return j + 1;
      }
    }
    return -1;
  }
  // number, true, false, null: up to the next delimiter
  let j = i;
  while (j < end) {
    const d = b[j];
    if (d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || isSpace(d)) break;
    j++;
  }
  return j > i ? j : -1;
}

/** `b` from `at` holds the ASCII `word`. */
export function sameAt(b: Uint8Array, at: number, word: string): boolean {
  for (let k = 0; k < word.length; k++) if (b[at + k] !== word.charCodeAt(k)) return false;
  return true;
}

function hasBackslash(b: Uint8Array, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if (b[k] === BACKSLASH) return true;
  return false;
}

/** The longest escaped form of one character (`\uXXXX`): a raw key longer than 6x a name cannot equal it. */
const MAX_ESCAPE = 6;

/**
 * The ranges of `keys` (ASCII names) among the top-level members of the JSON object in `b`; a key that appears
 * twice gives its last value, as JSON.parse would. Returns null when `b` is not a structurally well-formed JSON
 * object (unbalanced, cut, nested past MAX_JSON_DEPTH, or not an object), so callers treat it as not JSON.
 */
export function topLevelValues<K extends string>(b: Uint8Array, keys: readonly K[]): Partial<Record<K, ValueRange>> | null {
  const end = b.length;
  let longestKey = 0;
  for (const k of keys) longestKey = Math.max(longestKey, k.length);
  let i = 0;
  while (i < end && isSpace(b[i])) i++;
  if (b[i] !== OPEN_BRACE) return null;
  i++;
  const found: Partial<Record<K, ValueRange>> = {};
  for (let first = true; ; first = false) {
    while (i < end && isSpace(b[i])) i++;
    if (first && b[i] === CLOSE_BRACE) break; // {}
    if (b[i] !== QUOTE) return null;
    const keyEnd = skipString(b, i, end);
    if (keyEnd < 0) return null;
    const keyFrom = i + 1;
    const keyTo = keyEnd - 1;
    i = keyEnd;
    while (i < end && isSpace(b[i])) i++;
    if (b[i] !== COLON) return null;
    i++;
    while (i < end && isSpace(b[i])) i++;
    const valueEnd = skipValue(b, i, end);
    if (valueEnd < 0) return null;
    // Only a key short enough to be one of `keys` is compared (a huge key costs its scan, nothing more), and
    // an escaped one is decoded once for all of them.
    const keyLength = keyTo - keyFrom;
    if (keyLength <= longestKey * MAX_ESCAPE) {
      const decoded = hasBackslash(b, keyFrom, keyTo) ? parseRange(b, { start: keyFrom - 1, end: keyEnd }) : undefined;
      for (const k of keys) {
        const same = decoded === undefined ? keyLength === k.length && sameAt(b, keyFrom, k) : decoded === k;
        if (same) found[k] = { start: i, end: valueEnd };
      }
    }
    i = valueEnd;
    while (i < end && isSpace(b[i])) i++;
    if (b[i] === COMMA) {
      i++;
      continue;
    }
    if (b[i] === CLOSE_BRACE) break;
    return null;
  }
  i++;
  while (i < end && isSpace(b[i])) i++;
  return i === end ? found : null;
}

/** JSON.parse of one value range (small: a model name, a flag, a usage object); undefined when invalid. */
export function parseRange(b: Uint8Array, r: ValueRange | undefined): unknown {
  if (r === undefined) return undefined;
  try {
    return JSON.parse(Buffer.from(b.buffer, b.byteOffset + r.start, r.end - r.start).toString('utf8'));
  } catch {
    return undefined;
  }
}
