/**
 * The streaming body Chat and Completions share, shaped like vLLM's: each chunk's envelope (no usage member,
 * running usage with continuous_usage_stats; in the OpenAI flavor `usage: null` last on every chunk with
 * include_usage), one chunk per token slot with finish_reason on the last, the in-band error fault, then the
 * final `choices: []` usage chunk and `[DONE]`.
 */
import type { ReqCtx, StreamFlags } from './http.js';
import { EventWriter, runSlots, writeInbandError } from './sse.js';
import type { Slot, SlotPlan, UsageInfo } from './tokens.js';

export interface ChunkEnvelope {
  id: string;
  object: 'chat.completion.chunk' | 'text_completion';
  created: number;
  model: string;
  promptTokens: number;
  flags: StreamFlags;
}

/** One chunk object; `soFar` = completion tokens sent so far (for continuous usage stats). */
export function chunkObject(e: ChunkEnvelope, choices: unknown[], soFar: number): Record<string, unknown> {
  const c: Record<string, unknown> = { id: e.id, object: e.object, created: e.created, model: e.model, choices };
  if (e.flags.continuousUsage) {
    c.usage = { prompt_tokens: e.promptTokens, completion_tokens: soFar, total_tokens: e.promptTokens + soFar };
  } else if (e.flags.usageNull) c.usage = null; // after choices: OpenAI's chunks end with it
  return c;
}

/** Streams the token slots (after anything the caller already wrote on `w`), the usage chunk and `[DONE]`. */
export async function streamSlots(
  ctx: ReqCtx,
  w: EventWriter,
  e: ChunkEnvelope,
  slots: SlotPlan,
  choiceFor: (slot: Slot, last: boolean) => Record<string, unknown>,
  finalUsage: () => UsageInfo,
): Promise<void> {
  let soFar = 0;
  const result = await runSlots(
    ctx,
    w,
    slots.count,
    (k) => {
      const slot = slots.slot(k);
      soFar += slot.tokens;
      return w.data(chunkObject(e, [choiceFor(slot, k === slots.count - 1)], soFar));
    },
    () => writeInbandError(w),
  );
  if (result !== 'ok') return;
  if (e.flags.includeUsage) {
    const usage = finalUsage();
    if (!(await w.data({ id: e.id, object: e.object, created: e.created, model: e.model, choices: [], usage }))) return;
  }
  if (await w.done()) w.end();
}
