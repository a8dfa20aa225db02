import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSim } from '../../src/sim/server.js';
import { postJson, postSse } from './helpers.js';

let sim: RunningSim;
let client: OpenAI;
const url = (): string => sim.url + '/v1/completions';

beforeAll(async () => {
  sim = await startSimulator({ port: 0, ttftMs: 5, itlMs: 1, outputTokens: 4 });
  client = new OpenAI({ baseURL: sim.url + '/v1', apiKey: 'x' });
});
afterAll(() => sim.close());

describe('completions', () => {
  it('non-streaming text_completion with exact usage', async () => {
    const r = await client.completions.create({ model: 'c-model', prompt: 'Once upon a time' });
    expect(r.object).toBe('text_completion');
    expect(r.id).toMatch(/^cmpl-[0-9a-f]{32}$/);
    expect(r.model).toBe('c-model');
    expect(r.choices).toEqual([{ index: 0, text: 'lorem ipsum dolor sit', logprobs: null, finish_reason: 'stop', stop_reason: null, prompt_logprobs: null }]);
    expect(r.usage).toEqual({ prompt_tokens: 4, total_tokens: 8, completion_tokens: 4, prompt_tokens_details: null });
  });

  it('counts batched string prompts and token-id prompts', async () => {
    const a = await client.completions.create({ model: 'm', prompt: ['a b', 'c d e'], max_tokens: 2 });
    expect(a.usage?.prompt_tokens).toBe(5);
    expect(a.choices[0]!.finish_reason).toBe('length');
    const b = await client.completions.create({ model: 'm', prompt: [1, 2, 3, 4, 5, 6, 7] });
    expect(b.usage?.prompt_tokens).toBe(7);
    const empty = await client.completions.create({ model: 'm', prompt: '   ' });
    expect(empty.usage?.prompt_tokens).toBe(1);
  });

  it('streams with the SDK', async () => {
    const stream = await client.completions.create({ model: 'm', prompt: 'x y', stream: true, max_tokens: 6, stream_options: { include_usage: true } });
    let text = '';
    let usage: unknown;
    for await (const c of stream) {
      text += c.choices[0]?.text ?? '';
      if (c.usage) usage = c.usage;
    }
    expect(text).toBe('lorem ipsum dolor sit amet consectetur');
    expect(usage).toEqual({ prompt_tokens: 2, total_tokens: 8, completion_tokens: 6 });
  });

  it('wire format: no role chunk, stop_reason on every chunk, usage rules, [DONE]', async () => {
    const s = await postSse(url(), { model: 'm', prompt: 'p', stream: true, stream_options: { include_usage: true } }, { 'x-sim-tokens-per-chunk': '3' });
    expect(s.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const chunks = s.events.filter((e) => e.json).map((e) => e.json);
    expect(chunks).toHaveLength(3);
    expect(chunks[0].choices).toEqual([{ index: 0, text: 'lorem ipsum dolor', logprobs: null, finish_reason: null, stop_reason: null }]);
    expect(chunks[1].choices).toEqual([{ index: 0, text: ' sit', logprobs: null, finish_reason: 'stop', stop_reason: null }]);
    expect(chunks[0]).not.toHaveProperty('usage');
    expect(chunks[1]).not.toHaveProperty('usage');
    expect(chunks[2]).toMatchObject({ object: 'text_completion', choices: [], usage: { prompt_tokens: 1, total_tokens: 5, completion_tokens: 4 } });
    expect(s.raw.endsWith('data: [DONE]\n\n')).toBe(true);

    const plain = await postSse(url(), { model: 'm', prompt: 'p', stream: true });
    expect(plain.raw).not.toContain('usage');
    expect(plain.events.filter((e) => e.json)).toHaveLength(4);
  });

  it('rejects a missing prompt', async () => {
    const r = await postJson(url(), { model: 'm' });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ type: 'BadRequestError', param: 'prompt', code: 400 });
  });
});
