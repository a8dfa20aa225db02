/**
 * POST /v1/embeddings: vLLM's EmbeddingResponse with deterministic vectors
 * (seeded from each input's text, L2-normalised, float32 values) of the
 * configured dimension (or the request's `dimensions`). Supports
 * `encoding_format` "float" and "base64" (little-endian float32, which the
 * OpenAI SDK requests by default). Answered after ttft.
 */
import type { ReqCtx } from './http.js';
import { BadRequest, asObject, hexId, nowSeconds, requestModel, sendJson } from './http.js';
import { mulberry32 } from './options.js';
import { holdNonStreaming } from './sse.js';
import { fnv1a, textOrIdsTokens } from './tokens.js';

function inputItems(input: unknown): Array<string | number[]> {
  if (typeof input === 'string') return [input];
  if (Array.isArray(input) && input.length > 0) {
    if (input.every((x) => typeof x === 'number')) return [input as number[]];
    if (input.every((x) => typeof x === 'string' || (Array.isArray(x) && x.every((y) => typeof y === 'number')))) {
      return input as Array<string | number[]>;
    }
  }
  throw new BadRequest('input: expected a string, a list of strings, or token id list(s)', 'input');
}

/** Deterministic unit vector for one input. */
export function embedVector(item: string | number[], dim: number): number[] {
  const rand = mulberry32(fnv1a(typeof item === 'string' ? item : item.join(',')));
  const v = Array.from({ length: dim }, () => rand() * 2 - 1);
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => Math.fround(x / norm));
}

export async function handleEmbeddings(ctx: ReqCtx): Promise<void> {
  const body = asObject(ctx.body);
  const items = inputItems(body.input);
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') {
    throw new BadRequest(`encoding_format must be "float" or "base64", got ${JSON.stringify(format)}`, 'encoding_format');
  }
  let dim = ctx.opts.embeddingDim;
  if (body.dimensions !== undefined && body.dimensions !== null) {
    const d = body.dimensions;
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > 4096) {
      throw new BadRequest('dimensions must be an integer between 1 and 4096', 'dimensions');
    }
    dim = d;
  }
  const promptTokens = textOrIdsTokens(body.input);
  const model = requestModel(body, ctx.opts);
  if (!(await holdNonStreaming(ctx, 1))) return;
  const data = items.map((item, index) => {
    const vec = embedVector(item, dim);
    const embedding = format === 'base64' ? Buffer.from(new Float32Array(vec).buffer).toString('base64') : vec;
    return { index, object: 'embedding', embedding };
  });
  sendJson(ctx.res, 200, {
    id: `embd-${hexId()}`,
    object: 'list',
    created: nowSeconds(),
    model,
    data,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens, completion_tokens: 0, prompt_tokens_details: null },
  });
}
