/**
 * Non-generating vLLM endpoints: GET /health, GET /version, GET /v1/models,
 * POST /tokenize.
 */
import type { ServerResponse } from 'node:http';
import type { ReqCtx } from './http.js';
import { BadRequest, asObject, hexId, nowSeconds, sendJson } from './http.js';
import type { ResolvedSimOptions } from './options.js';
import { splitWords, wordTokenId } from './tokens.js';

/** Reported by GET /version: a vLLM-like version with a local tag marking the simulator. */
export const SIM_VLLM_VERSION = '0.11.0+tokentap.sim';

export function handleHealth(res: ServerResponse): void {
  res.writeHead(200, { 'content-length': 0 });
  res.end();
}

export function handleVersion(res: ServerResponse): void {
  sendJson(res, 200, { version: SIM_VLLM_VERSION });
}

export function handleModels(res: ServerResponse, opts: ResolvedSimOptions): void {
  const created = nowSeconds();
  sendJson(res, 200, {
    object: 'list',
    data: [
      {
        id: opts.model,
        object: 'model',
        created,
        owned_by: 'vllm',
        root: opts.model,
        parent: null,
        max_model_len: opts.maxModelLen,
        permission: [
          {
            id: `modelperm-${hexId()}`,
            object: 'model_permission',
            created,
            allow_create_engine: false,
            allow_sampling: true,
            allow_logprobs: true,
            allow_search_indices: false,
            allow_view: true,
            allow_fine_tuning: false,
            organization: '*',
            group: null,
            is_blocking: false,
          },
        ],
      },
    ],
  });
}

/**
 * POST /tokenize ({prompt} or {messages}): one token per whitespace-separated
 * word (ids are a hash of the word), so `count` equals the prompt_tokens the
 * generation endpoints report for the same text (an empty text gives one
 * token, id 1).
 */
export function handleTokenize(ctx: ReqCtx): void {
  const body = asObject(ctx.body);
  let list: string[];
  if (typeof body.prompt === 'string') list = splitWords(body.prompt);
  else if (Array.isArray(body.messages)) {
    list = [];
    for (const m of body.messages) {
      const c = m && typeof m === 'object' ? (m as { content?: unknown }).content : undefined;
      if (typeof c === 'string') list.push(...splitWords(c));
      else if (Array.isArray(c)) {
        for (const p of c) if (p && typeof p === 'object' && typeof p.text === 'string') list.push(...splitWords(p.text));
      }
    }
  } else throw new BadRequest('prompt or messages: Field required', 'prompt');
  const tokens = list.length > 0 ? list.map(wordTokenId) : [1];
  sendJson(ctx.res, 200, { count: tokens.length, max_model_len: ctx.opts.maxModelLen, tokens, token_strs: null });
}
