/**
 * POST /v1/chat/completions, shaped like vLLM's serving_chat:
 *  - stream: role chunk `{role: "assistant", content: ""}` sent with the
 *    headers at once; then (after ttft) reasoning deltas, then content or
 *    tool-call deltas, one token-bearing chunk per itl; the last one carries
 *    finish_reason (+ stop_reason: null); with include_usage a final
 *    `choices: []` chunk carries the usage (the OpenAI flavor also ends every
 *    chunk before it with `usage: null`); then `data: [DONE]`.
 *  - non-stream: a chat.completion object with usage, sent when the last
 *    token would have been generated.
 */
import type { ReqCtx } from './http.js';
import { BadRequest, asObject, hexId, nowSeconds, optionalLimit, requestModel, sendJson, streamFlags } from './http.js';
import { chunkObject, streamSlots, type ChunkEnvelope } from './choice-stream.js';
import { EventWriter, holdNonStreaming } from './sse.js';
import { SlotPlan, chatPromptTokens, completionTokens as countCompletion, planOutput, tokenText, toolArguments, usageInfo, type OutputPlan, type Slot } from './tokens.js';

interface ToolPlan {
  id: string;
  name: string;
  /** tool_choice named a function: vLLM reports finish_reason "stop". */
  named: boolean;
}

function planTool(body: Record<string, unknown>, forced: boolean): ToolPlan | undefined {
  const choice = body.tool_choice;
  const tools = Array.isArray(body.tools) ? body.tools : [];
  let namedName: string | undefined;
  if (choice && typeof choice === 'object') {
    const fn = (choice as { function?: { name?: unknown } }).function;
    if (typeof fn?.name === 'string') namedName = fn.name;
  }
  if (!forced && (tools.length === 0 || choice === 'none')) return undefined;
  const first = tools[0] as { function?: { name?: unknown } } | undefined;
  const firstName = typeof first?.function?.name === 'string' ? first.function.name : undefined;
  return { id: `chatcmpl-tool-${hexId()}`, name: namedName ?? firstName ?? 'sim_tool', named: namedName !== undefined };
}

function slotDelta(slot: Slot, tool: ToolPlan | undefined, reasoningField: string): Record<string, unknown> {
  switch (slot.kind) {
    case 'reasoning':
      return { [reasoningField]: slot.text };
    case 'tool-start':
      return { tool_calls: [{ index: 0, id: tool!.id, type: 'function', function: { name: tool!.name, arguments: slot.text } }] };
    case 'tool-args':
      return { tool_calls: [{ index: 0, function: { arguments: slot.text } }] };
    default:
      return { content: slot.text };
  }
}

function finishReason(plan: OutputPlan, tool: ToolPlan | undefined): string {
  if (plan.finishReason === 'length' || !tool) return plan.finishReason;
  return tool.named ? 'stop' : 'tool_calls';
}

export async function handleChat(ctx: ReqCtx): Promise<void> {
  const body = asObject(ctx.body);
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new BadRequest('messages: Field required (a non-empty list of messages)', 'messages');
  }
  const flags = streamFlags(body, ctx.ov.flavor);
  const requestMax = optionalLimit(body, 'max_completion_tokens', 'max_tokens');
  const promptTokens = chatPromptTokens(messages);
  const tool = planTool(body, ctx.ov.toolCall);
  const plan = planOutput(requestMax, ctx.ov, ctx.opts.outputTokens, promptTokens, true, tool !== undefined);
  const slots = new SlotPlan(plan, ctx.ov.tokensPerChunk);
  ctx.engine.plan(promptTokens, slots, requestModel(body, ctx.opts));
  const completionTokens = countCompletion(plan);
  const finish = finishReason(plan, tool);
  const id = `chatcmpl-${hexId()}`;
  const created = nowSeconds();
  const model = requestModel(body, ctx.opts);

  if (!flags.stream) {
    if (!(await holdNonStreaming(ctx, slots.count))) return;
    const reasoning = plan.reasoningTokens > 0 ? tokenText('reasoning', 0, plan.reasoningTokens) : null;
    const message: Record<string, unknown> = {
      role: 'assistant',
      content: tool ? null : tokenText('content', 0, plan.contentTokens),
      refusal: null,
      annotations: null,
      audio: null,
      function_call: null,
    };
    if (tool) {
      message.tool_calls = [{ id: tool.id, type: 'function', function: { name: tool.name, arguments: toolArguments(plan.contentTokens) } }];
    }
    message[ctx.opts.reasoningField] = reasoning;
    sendJson(ctx.res, 200, {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finish, stop_reason: null }],
      service_tier: null,
      system_fingerprint: null,
      usage: usageInfo(promptTokens, completionTokens, plan, true),
      prompt_logprobs: null,
      kv_transfer_params: null,
    });
    return;
  }

  const w = new EventWriter(ctx);
  const envelope: ChunkEnvelope = { id, object: 'chat.completion.chunk', created, model, promptTokens, flags };
  const role = { index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null };
  if (!(await w.data(chunkObject(envelope, [role], 0)))) return;
  await streamSlots(
    ctx,
    w,
    envelope,
    slots,
    (slot, last) => {
      const delta = slotDelta(slot, tool, ctx.opts.reasoningField);
      const choice: Record<string, unknown> = { index: 0, delta, logprobs: null, finish_reason: last ? finish : null };
      if (last) choice.stop_reason = null;
      return choice;
    },
    () => usageInfo(promptTokens, completionTokens, plan, false),
  );
}
