/** Best-effort reading of a request body (model, stream, stream_options) and usage injection. Pure. */

export interface RequestFacts {
  /** `model` from the JSON body, or undefined when absent / not JSON. */
  model: string | undefined;
  stream: boolean;
  /** The client itself asked for `stream_options.include_usage: true`. */
  includeUsage: boolean;
  /** Parsed JSON object, when the body is one. */
  json: Record<string, unknown> | null;
}

const NOT_JSON: RequestFacts = { model: undefined, stream: false, includeUsage: false, json: null };

export function inspectRequestBody(body: Uint8Array): RequestFacts {
  if (body.length === 0) return NOT_JSON;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch {
    return NOT_JSON;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return NOT_JSON;
  const json = parsed as Record<string, unknown>;
  const so = json.stream_options;
  const includeUsage =
    so !== null && typeof so === 'object' && (so as Record<string, unknown>).include_usage === true;
  return {
    model: typeof json.model === 'string' ? json.model : undefined,
    stream: json.stream === true,
    includeUsage,
    json,
  };
}

const PREFIX = Buffer.from('{"stream_options":{"include_usage":true},');

/**
 * The body with `stream_options.include_usage: true` added. When the client sent no `stream_options`,
 * every byte it sent is kept and the field is inserted after the opening brace; otherwise its
 * `stream_options` object is extended and the body re-serialised.
 */
export function withIncludeUsage(body: Uint8Array, facts: RequestFacts): Buffer {
  const json = facts.json;
  if (json === null) throw new Error('withIncludeUsage needs a JSON object body');
  if (!('stream_options' in json)) {
    const open = Buffer.from(body.buffer, body.byteOffset, body.byteLength).indexOf(0x7b /* { */);
    const rest = Buffer.from(body.buffer, body.byteOffset + open + 1, body.byteLength - open - 1);
    const isEmpty = /^\s*\}/.test(rest.subarray(0, 64).toString('utf8'));
    return Buffer.concat([isEmpty ? PREFIX.subarray(0, PREFIX.length - 1) : PREFIX, rest]);
  }
  const so = json.stream_options;
  const merged = so !== null && typeof so === 'object' ? { ...(so as object), include_usage: true } : { include_usage: true };
  return Buffer.from(JSON.stringify({ ...json, stream_options: merged }));
}
