/** Hand-written SSE streams in vLLM's wire format, for the meter's unit tests. */

export const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}) =>
  `data: ${JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...extra,
  })}\n\n`;

export const usageChunk = (prompt: number, completion: number, extra: Record<string, unknown> = {}) =>
  `data: ${JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [],
    usage: { prompt_tokens: prompt, total_tokens: prompt + completion, completion_tokens: completion, ...extra },
  })}\n\n`;

export const DONE = 'data: [DONE]\n\n';

/** role chunk, 4 content chunks (one multibyte), finish chunk, usage chunk, [DONE]. */
export const CHAT_EVENTS = [
  chunk({ role: 'assistant', content: '' }),
  chunk({ content: 'Hé' }),
  chunk({ content: ' 世界' }),
  chunk({ content: ' 🙂' }),
  chunk({ content: '!' }),
  chunk({}, 'stop'),
  usageChunk(7, 4, { prompt_tokens_details: { cached_tokens: 3 } }),
  DONE,
];
