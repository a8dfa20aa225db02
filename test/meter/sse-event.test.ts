import { describe, expect, it } from 'vitest';
import { inspectCompactChunk, inspectEvent } from '../../src/meter/sse-event.js';

const chunk = (delta: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, logprobs: null, finish_reason: null }], ...extra });

/** Chunks seen in the wild (vLLM, OpenAI, llama.cpp shapes), including tricky strings. */
const CORPUS = [
  chunk({ role: 'assistant', content: '' }),
  chunk({ content: 'hi' }),
  chunk({ content: '"quoted"' }),
  chunk({ content: '\\' }),
  chunk({ content: 'say \\"content\\":\\"x\\" and "error" and "usage":{' }),
  chunk({ content: null, reasoning_content: 'think' }),
  chunk({ reasoning: 'hm' }),
  chunk({ reasoning_content: '' }),
  chunk({ tool_calls: [{ index: 0, id: 't', type: 'function', function: { name: 'f', arguments: '' } }] }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: '{"content":"x"}' } }] }),
  chunk({ tool_calls: [] }),
  chunk({}),
  chunk({ content: 'x' }, { usage: null }),
  chunk({ content: 'x' }, { usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }),
  chunk({ content: '' }, { choices: [], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }),
  JSON.stringify({ id: 'c', choices: [], usage: { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 } }),
  JSON.stringify({ id: 'c', object: 'text_completion', choices: [{ index: 0, text: 'abc', logprobs: null, finish_reason: null }] }),
  JSON.stringify({ id: 'c', object: 'text_completion', choices: [{ index: 0, text: '', finish_reason: 'stop' }] }),
  JSON.stringify({ id: 'c', choices: [{ index: 0, delta: { content: 'x' }, logprobs: { content: [{ token: 'x', logprob: -1, bytes: [120], top_logprobs: [] }] } }] }),
  JSON.stringify({ id: 'c', choices: [{ index: 0, delta: { content: '' }, logprobs: { content: [{ token: '', logprob: -1 }] } }] }),
  JSON.stringify({ error: { message: 'boom', code: 500 } }),
  JSON.stringify({ type: 'response.output_text.delta', delta: 'x' }),
  // not compact: Python's json.dumps default separators
  '{"id": "c", "choices": [{"index": 0, "delta": {"content": "x"}}]}',
  '{"id": "c", "choices": [{"index": 0, "delta": {"role": "assistant"}}]}',
];

describe('inspectEvent', () => {
  it('the compact fast path never disagrees with the full parse; it declines what it cannot be sure of', () => {
    let fast = 0;
    for (const data of CORPUS) {
      const quick = inspectCompactChunk(Buffer.from(data));
      const full = inspectEvent('message', data); // an event name forces the full parse
      if (quick !== null) {
        fast++;
        expect(quick, data).toEqual(full);
      }
      expect(inspectEvent(undefined, data), data).toEqual(full);
    }
    expect(fast).toBeGreaterThanOrEqual(12); // the common chunks do take the fast path
  });

  it('classifies by value', () => {
    expect(inspectEvent(undefined, chunk({ content: 'hi' }))).toMatchObject({ token: true, content: true });
    expect(inspectEvent(undefined, chunk({ reasoning_content: 'hm' }))).toMatchObject({ token: true, content: false });
    expect(inspectEvent(undefined, chunk({ role: 'assistant', content: '' }))).toMatchObject({ token: false });
    expect(inspectEvent(undefined, '{"id": "c", "choices": [{"delta": {"content": "x"}}]}')).toMatchObject({ token: true });
    expect(inspectEvent(undefined, '[DONE]')).toMatchObject({ done: true });
    expect(inspectEvent(undefined, 'not json')).toMatchObject({ token: false, done: false });
    expect(inspectEvent(undefined, CORPUS[15])).toMatchObject({ usageOnly: true, usage: { completion: 3 } });
    expect(inspectEvent(undefined, CORPUS[20])).toMatchObject({ error: true });
    // An unbelievable usage object: no usage, flagged, and still a usage-only chunk (strip mode removes it).
    expect(inspectEvent(undefined, '{"choices":[],"usage":{"prompt_tokens":1e308,"completion_tokens":1}}')).toMatchObject({
      usage: null,
      usageRejected: true,
      usageOnly: true,
    });
    expect(inspectEvent(undefined, CORPUS[15])).toMatchObject({ usageRejected: false });
  });
});
