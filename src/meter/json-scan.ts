/**
 * Finds the values of chosen top-level keys in a JSON object's bytes without parsing the rest: one pass that
 * skips strings (escapes included) and nested objects/arrays by depth, so a request with a 100 KB prompt or
 * a response with a long completion costs a byte scan, not a tree of JavaScript objects. Pure.
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

const isSpace = (b: number): boolean => b === 32 || b === 10 || b === 13 || b === 9;

/** A top-level value's byte range [start, end) (JSON text: `"…"`, `true`, `{…}`, …). */
export interface ValueRange {
  start: number;
  end: number;
}

/** Index just past the string that opens at `i` (a quote), or -1 when it does not close. */
function skipString(b: Uint8Array, i: number, end: number): number {
  for (let j = i + 1; j < end; j++) {
    const c = b[j];
    if (c === QUOTE) return j + 1;
    if (c === BACKSLASH) j++;
  }
  return -1;
}

/** Index just past the value that starts at `i`, or -1 when the value is malformed or cut. */
function skipValue(b: Uint8Array, i: number, end: number): number {
  const c = b[i];
  if (c === QUOTE) return skipString(b, i, end);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    const closers: number[] = []; // the closing byte each open level expects
    for (let j = i; j < end; j++) {
      const d = b[j];
      if (d === QUOTE) {
        j = skipString(b, j, end) - 1;
        if (j < 0) return -1;
      } else if (d === OPEN_BRACE) {
        closers.push(CLOSE_BRACE);
      } else if (d === OPEN_BRACKET) {
        closers.push(CLOSE_BRACKET);
      } else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
        if (closers.pop() !== d) return -1;
        if (closers.length === 0) return j + 1;
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

/** The key whose raw bytes (between its quotes) are [from, to) equals `key`; escaped keys are decoded. */
function keyEquals(b: Uint8Array, from: number, to: number, key: string, escaped: boolean): boolean {
  if (escaped) return parseRange(b, { start: from - 1, end: to + 1 }) === key;
  return to - from === key.length && sameAt(b, from, key);
}

function hasBackslash(b: Uint8Array, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if (b[k] === BACKSLASH) return true;
  return false;
}

/**
 * The ranges of `keys` (ASCII names) among the top-level members of the JSON object in `b`; a key that appears twice gives its last value, as JSON.parse would. Returns null when `b` is not a
 * structurally well-formed JSON object (unbalanced, cut, or not an object), so callers treat it as not JSON.
 */
export function topLevelValues<K extends string>(b: Uint8Array, keys: readonly K[]): Partial<Record<K, ValueRange>> | null {
  const end = b.length;
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
    const escaped = hasBackslash(b, keyFrom, keyTo);
    for (const k of keys) {
      if (keyEquals(b, keyFrom, keyTo, k, escaped)) found[k] = { start: i, end: valueEnd };
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
