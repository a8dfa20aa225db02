/**
 * POST /v1/completions, shaped like vLLM's serving_completion: `text_completion`
 * chunks `choices[{index, text, logprobs, finish_reason, stop_reason}]`, no
 * role chunk (headers are flushed at once, the first chunk comes after ttft),
 * the last token chunk carries finish_reason, the same include_usage rules as
 * chat, then `data: [DONE]`. Batched prompts are counted but answered with a
 * single choice.
 */
import type { ReqCtx } from './http.js';
import { BadRequest, asObject, hexId, nowSeconds, optionalLimit, requestModel, sendJson, streamFlags } from './http.js';
import { streamSlots } from './choice-stream.js';
import { EventWriter, holdNonStreaming } from './sse.js';
import { SlotPlan, planOutput, textOrIdsTokens, tokenText, usageInfo } from './tokens.js';

function validPrompt(p: unknown): boolean {
  if (typeof p === 'string') return true;
  if (!Array.isArray(p) || p.length === 0) return false;
  return p.every((x) => typeof x === 'string' || typeof x === 'number' || (Array.isArray(x) && x.every((y) => typeof y === 'number')));
}

export async function handleCompletions(ctx: ReqCtx): Promise<void> {
  const body = asObject(ctx.body);
  if (!validPrompt(body.prompt)) {
    throw new BadRequest('prompt: Field required (a string, list of strings or list of token ids)', 'prompt');
  }
  const flags = streamFlags(body, ctx.ov.flavor);
  const requestMax = optionalLimit(body, 'max_tokens');
  const promptTokens = textOrIdsTokens(body.prompt);
  const plan = planOutput(requestMax, ctx.ov, ctx.opts.outputTokens, promptTokens, false);
  const slots = new SlotPlan(plan, ctx.ov.tokensPerChunk);
  ctx.engine.plan(promptTokens, slots, requestModel(body, ctx.opts));
  const id = `cmpl-${hexId()}`;
  const created = nowSeconds();
  const model = requestModel(body, ctx.opts);
  const finish = plan.finishReason;

  if (!flags.stream) {
    if (!(await holdNonStreaming(ctx, slots.count))) return;
    sendJson(ctx.res, 200, {
      id,
      object: 'text_completion',
      created,
      model,
      choices: [
        {
          index: 0,
          text: tokenText('content', 0, plan.contentTokens),
          logprobs: null,
          finish_reason: finish,
          stop_reason: null,
          prompt_logprobs: null,
        },
      ],
      service_tier: null,
      system_fingerprint: null,
      usage: usageInfo(promptTokens, plan.contentTokens, plan, true),
      kv_transfer_params: null,
    });
    return;
  }

  const w = new EventWriter(ctx);
  w.open();
  await streamSlots(
    ctx,
    w,
    { id, object: 'text_completion', created, model, promptTokens, flags },
    slots,
    (slot, last) => ({ index: 0, text: slot.text, logprobs: null, finish_reason: last ? finish : null, stop_reason: null }),
    () => usageInfo(promptTokens, plan.contentTokens, plan, false),
  );
}
