/**
 * POST /v1/responses, shaped like vLLM's serving_responses (simple,
 * non-harmony path). Streaming events are `event: <type>\ndata: <json>\n\n`
 * with `type` and a 0-based `sequence_number`:
 *   response.created, response.in_progress            (at once)
 *   [reasoning] response.output_item.added, response.content_part.added,
 *               response.reasoning_text.delta..., response.reasoning_text.done,
 *               response.content_part.done, response.output_item.done
 *   [text]      response.output_item.added, response.content_part.added,
 *               response.output_text.delta..., response.output_text.done,
 *               response.content_part.done, response.output_item.done
 *   [tool]      response.output_item.added (function_call),
 *               response.function_call_arguments.delta..., ...arguments.done,
 *               response.output_item.done
 *   response.completed (carrying usage)
 * No `data: [DONE]` (vLLM sends none on this endpoint).
 */
import type { ReqCtx } from './http.js';
import { BadRequest, asObject, hexId, nowSeconds, optionalLimit, requestModel, sendJson } from './http.js';
import { EventWriter, INBAND_ERROR_MESSAGE, holdNonStreaming, runSlots } from './sse.js';
import { SlotPlan, completionTokens, planOutput, responsesPromptTokens, tokenText, toolArguments, type Slot } from './tokens.js';

type Kind = 'reasoning' | 'text' | 'tool';
interface Tool {
  name: string;
  itemId: string;
  callId: string;
}

function planTool(body: Record<string, unknown>, forced: boolean): Tool | undefined {
  const tools = Array.isArray(body.tools) ? (body.tools as Array<{ name?: unknown; type?: unknown }>) : [];
  const choice = body.tool_choice;
  const fns = tools.filter((t) => t && t.type === 'function' && typeof t.name === 'string');
  if (!forced && (fns.length === 0 || choice === 'none')) return undefined;
  const named = choice && typeof choice === 'object' ? (choice as { name?: unknown }).name : undefined;
  const name = typeof named === 'string' ? named : typeof fns[0]?.name === 'string' ? (fns[0].name as string) : 'sim_tool';
  return { name, itemId: `fc_${hexId()}`, callId: `call_${hexId()}` };
}

function itemKind(slot: Slot): Kind {
  return slot.kind === 'reasoning' ? 'reasoning' : slot.kind === 'text' ? 'text' : 'tool';
}

export async function handleResponses(ctx: ReqCtx): Promise<void> {
  const body = asObject(ctx.body);
  const input = body.input;
  if (typeof input !== 'string' && !Array.isArray(input)) throw new BadRequest('input: Field required', 'input');
  const requestMax = optionalLimit(body, 'max_output_tokens');
  const promptTokens = responsesPromptTokens(input, body.instructions);
  const tool = planTool(body, ctx.ov.toolCall);
  const plan = planOutput(requestMax, ctx.ov, ctx.opts.outputTokens, promptTokens, true, tool !== undefined);
  const slots = new SlotPlan(plan, ctx.ov.tokensPerChunk);
  ctx.engine.plan(promptTokens, slots, requestModel(body, ctx.opts));
  const model = requestModel(body, ctx.opts);
  const createdAt = nowSeconds();
  const respId = `resp_${hexId()}`;
  const ids: Record<Kind, string> = { reasoning: `rs_${hexId()}`, text: `msg_${hexId()}`, tool: tool?.itemId ?? '' };
  const outputTokens = completionTokens(plan);
  const status = plan.finishReason === 'length' ? 'incomplete' : 'completed';
  const usage = {
    input_tokens: promptTokens,
    input_tokens_details: { cached_tokens: plan.cachedTokens },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: plan.reasoningTokens },
    total_tokens: promptTokens + outputTokens,
  };
  const response = (st: string, output: unknown[], u: unknown): Record<string, unknown> => ({
    id: respId,
    created_at: createdAt,
    incomplete_details: st === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: typeof body.instructions === 'string' ? body.instructions : null,
    metadata: body.metadata ?? null,
    model,
    object: 'response',
    output,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    temperature: typeof body.temperature === 'number' ? body.temperature : 1.0,
    tool_choice: body.tool_choice ?? 'auto',
    tools: Array.isArray(body.tools) ? body.tools : [],
    top_p: typeof body.top_p === 'number' ? body.top_p : 1.0,
    background: body.background === true,
    max_output_tokens: requestMax ?? Math.max(1, ctx.opts.maxModelLen - promptTokens),
    max_tool_calls: body.max_tool_calls ?? null,
    previous_response_id: body.previous_response_id ?? null,
    prompt: null,
    reasoning: body.reasoning ?? null,
    service_tier: typeof body.service_tier === 'string' ? body.service_tier : 'auto',
    status: st,
    text: body.text ?? null,
    top_logprobs: null,
    truncation: typeof body.truncation === 'string' ? body.truncation : 'disabled',
    usage: u,
    user: body.user ?? null,
  });
  const item = (kind: Kind, text: string, done: boolean): Record<string, unknown> => {
    if (kind === 'reasoning') {
      const base = { id: ids.reasoning, type: 'reasoning', summary: [] as unknown[] };
      return done ? { ...base, content: [{ type: 'reasoning_text', text }], encrypted_content: null, status: 'completed' } : { ...base, status: 'in_progress' };
    }
    if (kind === 'tool') {
      return { id: ids.tool, type: 'function_call', call_id: tool!.callId, name: tool!.name, arguments: text, status: done ? 'completed' : 'in_progress' };
    }
    const content = done ? [{ type: 'output_text', text, annotations: [], logprobs: [] }] : [];
    return { id: ids.text, type: 'message', role: 'assistant', status: done ? 'completed' : 'in_progress', content };
  };
  const kindsInOrder: Kind[] = [];
  if (plan.reasoningTokens > 0) kindsInOrder.push('reasoning');
  if (tool) kindsInOrder.push('tool');
  else if (plan.contentTokens > 0 || plan.reasoningTokens === 0) kindsInOrder.push('text');
  const finalText = (k: Kind): string =>
    k === 'reasoning' ? tokenText('reasoning', 0, plan.reasoningTokens) : k === 'tool' ? toolArguments(plan.contentTokens) : tokenText('content', 0, plan.contentTokens);
  const finalOutput = (): unknown[] => kindsInOrder.map((k) => item(k, finalText(k), true));

  if (body.stream !== true) {
    if (!(await holdNonStreaming(ctx, slots.count))) return;
    sendJson(ctx.res, 200, response(status, finalOutput(), usage));
    return;
  }

  const w = new EventWriter(ctx);
  let seq = 0;
  const emit = (type: string, fields: Record<string, unknown>): Promise<boolean> => w.named(type, { type, sequence_number: seq++, ...fields });
  const emitAll = async (list: Array<[string, Record<string, unknown>]>): Promise<boolean> => {
    for (const [type, fields] of list) if (!(await emit(type, fields))) return false;
    return true;
  };
  const opening = response('in_progress', [], null);
  if (!(await emitAll([['response.created', { response: opening }], ['response.in_progress', { response: opening }]]))) return;

  let outputIndex = -1;
  let current: Kind | undefined;
  const loc = (k: Kind): Record<string, unknown> => ({ item_id: ids[k], output_index: outputIndex });
  const openItem = (k: Kind): Array<[string, Record<string, unknown>]> => {
    outputIndex++;
    const added: Array<[string, Record<string, unknown>]> = [['response.output_item.added', { output_index: outputIndex, item: item(k, '', false) }]];
    if (k === 'reasoning') added.push(['response.content_part.added', { ...loc(k), content_index: 0, part: { type: 'reasoning_text', text: '' } }]);
    if (k === 'text') added.push(['response.content_part.added', { ...loc(k), content_index: 0, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } }]);
    return added;
  };
  const closeItem = (k: Kind): Array<[string, Record<string, unknown>]> => {
    const t = finalText(k);
    const doneItem: [string, Record<string, unknown>] = ['response.output_item.done', { output_index: outputIndex, item: item(k, t, true) }];
    if (k === 'tool') return [['response.function_call_arguments.done', { ...loc(k), arguments: t, name: tool!.name }], doneItem];
    if (k === 'reasoning') {
      return [
        ['response.reasoning_text.done', { ...loc(k), content_index: 0, text: t }],
        ['response.content_part.done', { ...loc(k), content_index: 0, part: { type: 'reasoning_text', text: t } }],
        doneItem,
      ];
    }
    return [
      ['response.output_text.done', { ...loc(k), content_index: 0, text: t, logprobs: [] }],
      ['response.content_part.done', { ...loc(k), content_index: 0, part: { type: 'output_text', text: t, annotations: [] } }],
      doneItem,
    ];
  };
  const deltaEvent = (s: Slot): [string, Record<string, unknown>] => {
    if (s.kind === 'reasoning') return ['response.reasoning_text.delta', { ...loc('reasoning'), content_index: 0, delta: s.text }];
    if (s.kind === 'text') return ['response.output_text.delta', { ...loc('text'), content_index: 0, delta: s.text, logprobs: [] }];
    return ['response.function_call_arguments.delta', { ...loc('tool'), delta: s.text }];
  };

  const result = await runSlots(
    ctx,
    w,
    slots.count,
    (k) => {
      const s = slots.slot(k);
      const kind = itemKind(s);
      const list: Array<[string, Record<string, unknown>]> = [];
      if (kind !== current) {
        if (current) list.push(...closeItem(current));
        current = kind;
        list.push(...openItem(kind));
      }
      // The function_call item's first slot announces the call (output_item.added); it has a delta only
      // when there are no argument words to follow (the whole `{"text": ""}`).
      if (s.kind !== 'tool-start' || s.text !== '') list.push(deltaEvent(s));
      return emitAll(list);
    },
    async () => {
      if (await w.named('error', { type: 'error', code: 'InternalServerError', message: INBAND_ERROR_MESSAGE, param: null, sequence_number: seq++ })) w.end();
    },
  );
  if (result !== 'ok') return;
  const tail = current ? closeItem(current) : [];
  tail.push(['response.completed', { response: response(status, finalOutput(), usage) }]);
  if (await emitAll(tail)) w.end();
}
