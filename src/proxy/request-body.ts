/** Reading a request body (model, stream, stream_options) and usage injection. Pure. */
import { parseRange, topLevelValues } from '../meter/json-scan.js';

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
}

const NOT_JSON: RequestFacts = { model: undefined, stream: false, includeUsage: false, isObject: false, hasStreamOptions: false };
const KEYS = ['model', 'stream', 'stream_options'] as const;

/** Reads the three top-level members tokentap needs with a byte scan: a long prompt is never parsed. */
export function inspectRequestBody(body: Uint8Array): RequestFacts {
  const ranges = body.length === 0 ? null : topLevelValues(body, KEYS);
  if (ranges === null) return NOT_JSON;
  const model = parseRange(body, ranges.model);
  const so = parseRange(body, ranges.stream_options);
  return {
    model: typeof model === 'string' ? model : undefined,
    stream: parseRange(body, ranges.stream) === true,
    includeUsage: so !== null && typeof so === 'object' && (so as Record<string, unknown>).include_usage === true,
    isObject: true,
    hasStreamOptions: ranges.stream_options !== undefined,
  };
}

const PREFIX = Buffer.from('{"stream_options":{"include_usage":true},');

/**
 * The body with `stream_options.include_usage: true` added. When the client sent no `stream_options`,
 * every byte it sent is kept and the field is inserted after the opening brace; otherwise its
 * `stream_options` object is extended and the body re-serialised.
 */
export function withIncludeUsage(body: Uint8Array, facts: RequestFacts): Buffer {
  if (!facts.isObject) throw new Error('withIncludeUsage needs a JSON object body');
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (!facts.hasStreamOptions) {
    const rest = bytes.subarray(bytes.indexOf(0x7b /* { */) + 1);
    const isEmpty = /^\s*\}/.test(rest.subarray(0, 64).toString('utf8'));
    return Buffer.concat([isEmpty ? PREFIX.subarray(0, PREFIX.length - 1) : PREFIX, rest]);
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    return bytes; // not valid JSON after all: the upstream will say so
  }
  const so = json.stream_options;
  const merged = so !== null && typeof so === 'object' ? { ...(so as object), include_usage: true } : { include_usage: true };
  return Buffer.from(JSON.stringify({ ...json, stream_options: merged }));
}
