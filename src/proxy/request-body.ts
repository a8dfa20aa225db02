/** Reading a request body (model, stream, stream_options) and usage injection. Pure. */
import { parseRange, sameAt, topLevelValues, type ValueRange } from '../meter/json-scan.js';

/** The bytes withIncludeUsage writes: `text` replaces [start, end) of the body (an insert when start === end). */
export interface UsageEdit extends ValueRange {
  text: Buffer;
}

export interface RequestFacts {
  /** `model` from the JSON body, or undefined when absent / not JSON. */
  model: string | undefined;
  stream: boolean;
  /** The client itself asked for `stream_options.include_usage: true`. */
  includeUsage: boolean;
  /** The body is a JSON object. */
  isObject: boolean;
  /** It has a top-level `stream_options` member. */
  hasStreamOptions: boolean;
  /**
   * tokentap may turn usage on, and must strip the usage chunk only then (see usageEdit). False when the client
   * asked for usage itself, or when the upstream will send usage (or reject the request) whatever tokentap does.
   */
  injectable: boolean;
  /** Where withIncludeUsage writes, set exactly when `injectable`. */
  usageEdit?: UsageEdit;
  /** The top-level `user` string (attribution's `body:user`), read only when asked for. */
  user?: string;
}

/** Facts for a body that is absent or not a JSON object: nothing known, nothing injected. */
export const NO_FACTS: RequestFacts = {
  model: undefined,
  stream: false,
  includeUsage: false,
  isObject: false,
  hasStreamOptions: false,
  injectable: false,
};
const KEYS = ['model', 'stream', 'stream_options'] as const;
const KEYS_WITH_USER = [...KEYS, 'user'] as const;
/** A `user` member longer than this is not read (a user id is at most 256 characters, each up to 6 bytes escaped). */
const MAX_USER_BYTES = 2 + 6 * 256;
const OPTION_KEYS = ['include_usage', 'continuous_usage_stats'] as const;

const MEMBER = Buffer.from('"stream_options":{"include_usage":true}');
const MEMBER_COMMA = Buffer.from('"stream_options":{"include_usage":true},');
const OPTIONS = Buffer.from('{"include_usage":true}');
const TRUE = Buffer.from('true');

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const isSpace = (b: number): boolean => b === 32 || b === 10 || b === 13 || b === 9;

type Options = Partial<Record<(typeof OPTION_KEYS)[number], ValueRange>>;

/** The members of a `stream_options` object, as ranges of the whole body; null when it is not an object. */
function readOptions(body: Uint8Array, so: ValueRange | undefined): Options | null {
  if (so === undefined || body[so.start] !== OPEN_BRACE) return null;
  const found = topLevelValues(body.subarray(so.start, so.end), OPTION_KEYS);
  if (found === null) return null;
  const shift = (r: ValueRange | undefined) => (r === undefined ? undefined : { start: so.start + r.start, end: so.start + r.end });
  return { include_usage: shift(found.include_usage), continuous_usage_stats: shift(found.continuous_usage_stats) };
}

const isFalsy = (v: unknown): boolean => v === false || v === null;

/**
 * The edit that makes the upstream (vLLM) stream a final usage chunk, or undefined when tokentap must not make
 * one. The client must get exactly what the upstream would have sent for its own request, so tokentap edits
 * only where it alone decides whether a usage chunk exists:
 * - no `stream_options`: insert the member right after the opening brace;
 * - `stream_options: null`: replace the `null`;
 * - an object whose (last) `include_usage` is `false` or `null` and whose `continuous_usage_stats` is absent,
 *   `false` or `null`: replace that `include_usage` value with `true`.
 * Not injectable: an object without `include_usage` (vLLM defaults it to true: usage comes anyway, and is the
 * client's), `continuous_usage_stats` set (usage on every chunk, which the meter does not strip), any other
 * `include_usage` value (0, 1, "yes", "x": the upstream coerces or rejects it; tokentap does not guess which),
 * and `stream_options` of another type or malformed (the upstream rejects it).
 */
function usageEdit(body: Uint8Array, so: ValueRange | undefined, options: Options | null): UsageEdit | undefined {
  if (so === undefined) {
    const at = body.indexOf(OPEN_BRACE) + 1;
    let i = at;
    while (isSpace(body[i])) i++;
    return { start: at, end: at, text: body[i] === CLOSE_BRACE ? MEMBER : MEMBER_COMMA };
  }
  if (so.end - so.start === 4 && sameAt(body, so.start, 'null')) return { ...so, text: OPTIONS };
  const include = options?.include_usage;
  if (options === null || include === undefined || !isFalsy(parseRange(body, include))) return undefined;
  const continuous = options.continuous_usage_stats;
  if (continuous !== undefined && !isFalsy(parseRange(body, continuous))) return undefined;
  return { ...include, text: TRUE };
}

/**
 * Reads the three top-level members tokentap needs with a byte scan: a long prompt is never parsed. `withUser`
 * (attribution reads `body:user`): the `user` member too, in the same pass.
 */
export function inspectRequestBody(body: Uint8Array, withUser = false): RequestFacts {
  const ranges: Partial<Record<(typeof KEYS_WITH_USER)[number], ValueRange>> | null =
    body.length === 0 ? null : topLevelValues(body, withUser ? KEYS_WITH_USER : KEYS);
  if (ranges === null) return NO_FACTS;
  const model = parseRange(body, ranges.model);
  const so = ranges.stream_options;
  const options = readOptions(body, so);
  const includeUsage = parseRange(body, options?.include_usage) === true;
  const edit = includeUsage ? undefined : usageEdit(body, so, options);
  const facts: RequestFacts = {
    model: typeof model === 'string' ? model : undefined,
    stream: parseRange(body, ranges.stream) === true,
    includeUsage,
    isObject: true,
    hasStreamOptions: so !== undefined,
    injectable: edit !== undefined,
  };
  if (edit !== undefined) facts.usageEdit = edit;
  const user = ranges.user;
  if (user !== undefined && user.end - user.start <= MAX_USER_BYTES) {
    const value = parseRange(body, user);
    if (typeof value === 'string') facts.user = value;
  }
  return facts;
}

/**
 * The body with usage turned on by facts.usageEdit: slices of the client's bytes around the inserted or
 * replaced ones, never a re-serialisation (which would round big numbers, replace invalid UTF-8, collapse
 * duplicate keys, and throw on deep nesting). Anything else (not injectable, an edit that does not fit the
 * body) gives the body unchanged; never throws.
 */
export function withIncludeUsage(body: Uint8Array, facts: RequestFacts): Buffer {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const edit = facts.usageEdit;
  if (!facts.injectable || edit === undefined || !(0 <= edit.start && edit.start <= edit.end && edit.end <= bytes.length)) {
    return bytes;
  }
  return Buffer.concat([bytes.subarray(0, edit.start), edit.text, bytes.subarray(edit.end)]);
}
