import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSim } from '../../src/sim/server.js';
import { CHAT_PATH, postJson, postSse, withSim } from './helpers.js';

let sim: RunningSim;
let client: OpenAI;
const url = (): string => sim.url + CHAT_PATH;
const msgs = [
  { role: 'system', content: 'be brief' },
  { role: 'user', content: 'hello there  simulated\nworld' },
];
// prompt_tokens = whitespace-separated words over all message contents = 2 + 4
const PROMPT = 6;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, ttftMs: 5, itlMs: 1, outputTokens: 5 });
  client = new OpenAI({ baseURL: sim.url + '/v1', apiKey: 'x' });
});
afterAll(() => sim.close());

describe('chat completions (non-streaming)', () => {
  it('returns a vLLM chat.completion with exact usage and echoes the model', async () => {
    const r = await client.chat.completions.create({ model: 'any/model-name', messages: msgs as any });
    expect(r.object).toBe('chat.completion');
    expect(r.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(r.model).toBe('any/model-name');
    expect(r.choices).toHaveLength(1);
    expect(r.choices[0]!.message.role).toBe('assistant');
    expect(r.choices[0]!.message.content).toBe('lorem ipsum dolor sit amet');
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect(r.usage).toEqual({ prompt_tokens: PROMPT, completion_tokens: 5, total_tokens: PROMPT + 5, prompt_tokens_details: null });
  });

  it('max_tokens sets the output length and finish_reason "length"', async () => {
    const r = await client.chat.completions.create({ model: 'm', messages: msgs as any, max_tokens: 20 });
    expect(r.usage?.completion_tokens).toBe(20);
    expect(r.choices[0]!.message.content!.split(' ')).toHaveLength(20);
    expect(r.choices[0]!.finish_reason).toBe('length');
    const r2 = await client.chat.completions.create({ model: 'm', messages: msgs as any, max_completion_tokens: 3 });
    expect(r2.usage?.completion_tokens).toBe(3);
    expect(r2.choices[0]!.finish_reason).toBe('length');
  });

  it('x-sim-output-tokens below max_tokens stops naturally; at or above it is cut by length', async () => {
    const stop = await postJson(url(), { model: 'm', messages: msgs, max_tokens: 10 }, { 'x-sim-output-tokens': '4' });
    expect(stop.json.usage.completion_tokens).toBe(4);
    expect(stop.json.choices[0].finish_reason).toBe('stop');
    const cut = await postJson(url(), { model: 'm', messages: msgs, max_tokens: 3 }, { 'x-sim-output-tokens': '4' });
    expect(cut.json.usage.completion_tokens).toBe(3);
    expect(cut.json.choices[0].finish_reason).toBe('length');
  });

  it('reports reasoning, cached tokens and content-part prompts', async () => {
    const r = await postJson(
      url(),
      { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'one two three' }, { type: 'image_url', image_url: { url: 'x' } }] }] },
      { 'x-sim-reasoning-tokens': '4', 'x-sim-cached-tokens': '2' },
    );
    expect(r.status).toBe(200);
    const m = r.json.choices[0].message;
    expect(m.reasoning_content).toBe('let me think about');
    expect(m.content).toBe('lorem ipsum dolor sit amet');
    expect(r.json.usage).toEqual({
      prompt_tokens: 3,
      total_tokens: 12,
      completion_tokens: 9,
      prompt_tokens_details: { cached_tokens: 2 },
      completion_tokens_details: { reasoning_tokens: 4 },
    });
  });

  it('answers tool calls when the request has tools', async () => {
    const r = await client.chat.completions.create({
      model: 'm',
      messages: msgs as any,
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
    });
    const tc = r.choices[0]!.message.tool_calls!;
    expect(tc).toHaveLength(1);
    expect(tc[0]!.id).toMatch(/^chatcmpl-tool-[0-9a-f]{32}$/);
    expect(tc[0]!.type).toBe('function');
    expect((tc[0] as any).function.name).toBe('get_weather');
    expect(JSON.parse((tc[0] as any).function.arguments)).toEqual({ text: 'lorem ipsum dolor sit amet' });
    expect(r.choices[0]!.message.content).toBeNull();
    expect(r.choices[0]!.finish_reason).toBe('tool_calls');
    expect(r.usage?.completion_tokens).toBe(6); // 5 argument words + the function name's token
  });

  it('rejects malformed requests with the vLLM error shape', async () => {
    const r = await postJson(url(), { model: 'm' });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ error: { message: expect.any(String), type: 'BadRequestError', param: 'messages', code: 400 } });
    const bad = await postJson(url(), { model: 'm', messages: msgs, max_tokens: 0 });
    expect(bad.status).toBe(400);
    expect(bad.json.error.param).toBe('max_tokens');
    const so = await postJson(url(), { model: 'm', messages: msgs, stream_options: { include_usage: true } });
    expect(so.status).toBe(400);
  });
});

describe('chat completions (streaming)', () => {
  it('streams with the SDK and assembles the expected text', async () => {
    const stream = await client.chat.completions.create({ model: 'm', messages: msgs as any, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: unknown;
    let finish: string | null = null;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
      if (c.usage) usage = c.usage;
    }
    expect(text).toBe('lorem ipsum dolor sit amet');
    expect(finish).toBe('stop');
    expect(usage).toEqual({ prompt_tokens: PROMPT, total_tokens: PROMPT + 5, completion_tokens: 5 });
  });

  it('wire format with include_usage: role chunk, no usage member until the choices:[] usage chunk, [DONE]', async () => {
    const s = await postSse(url(), { model: 'wire-model', messages: msgs, stream: true, stream_options: { include_usage: true } }, { 'x-sim-output-tokens': '3' });
    expect(s.status).toBe(200);
    expect(s.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(s.raw.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(s.raw).not.toContain('\r');
    const ev = s.events;
    expect(ev.map((e) => e.data === '[DONE]')).toEqual([false, false, false, false, false, true]);
    const chunks = ev.slice(0, 5).map((e) => e.json);
    const id = chunks[0].id;
    for (const c of chunks) {
      expect(c.id).toBe(id);
      expect(c.object).toBe('chat.completion.chunk');
      expect(c.model).toBe('wire-model');
      expect(typeof c.created).toBe('number');
    }
    expect(chunks[0].choices).toEqual([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
    expect(chunks[1].choices).toEqual([{ index: 0, delta: { content: 'lorem' }, logprobs: null, finish_reason: null }]);
    expect(chunks[2].choices).toEqual([{ index: 0, delta: { content: ' ipsum' }, logprobs: null, finish_reason: null }]);
    expect(chunks[3].choices).toEqual([{ index: 0, delta: { content: ' dolor' }, logprobs: null, finish_reason: 'stop', stop_reason: null }]);
    for (const c of chunks.slice(0, 4)) expect(c).not.toHaveProperty('usage'); // vLLM: exclude_unset
    expect(chunks[4].choices).toEqual([]);
    expect(chunks[4].usage).toEqual({ prompt_tokens: PROMPT, total_tokens: PROMPT + 3, completion_tokens: 3 });
  });

  it('without include_usage there is no usage anywhere in the stream', async () => {
    const s = await postSse(url(), { model: 'm', messages: msgs, stream: true }, { 'x-sim-output-tokens': '4', 'x-sim-tokens-per-chunk': '3' });
    expect(s.raw).not.toContain('usage');
    const content = s.events.filter((e) => e.json?.choices?.[0]?.delta?.content);
    expect(content.map((e) => e.json.choices[0].delta.content)).toEqual(['lorem ipsum dolor', ' sit']);
    expect(s.events.at(-1)!.data).toBe('[DONE]');
  });

  it('continuous_usage_stats puts running usage on every chunk', async () => {
    const s = await postSse(url(), { model: 'm', messages: msgs, stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } }, { 'x-sim-output-tokens': '2' });
    const usages = s.events.filter((e) => e.json).map((e) => e.json.usage);
    expect(usages).toEqual([
      { prompt_tokens: PROMPT, completion_tokens: 0, total_tokens: PROMPT },
      { prompt_tokens: PROMPT, completion_tokens: 1, total_tokens: PROMPT + 1 },
      { prompt_tokens: PROMPT, completion_tokens: 2, total_tokens: PROMPT + 2 },
      { prompt_tokens: PROMPT, total_tokens: PROMPT + 2, completion_tokens: 2 },
    ]);
  });

  it('streams reasoning deltas before content (reasoning_content by default)', async () => {
    const s = await postSse(url(), { model: 'm', messages: msgs, stream: true, stream_options: { include_usage: true } }, { 'x-sim-reasoning-tokens': '3', 'x-sim-output-tokens': '2', 'x-sim-cached-tokens': '100' });
    const deltas = s.events.filter((e) => e.json?.choices?.length).map((e) => e.json.choices[0].delta);
    expect(deltas).toEqual([
      { role: 'assistant', content: '' },
      { reasoning_content: 'let' },
      { reasoning_content: ' me' },
      { reasoning_content: ' think' },
      { content: 'lorem' },
      { content: ' ipsum' },
    ]);
    const usage = s.events.at(-2)!.json.usage;
    expect(usage).toEqual({
      prompt_tokens: PROMPT,
      total_tokens: PROMPT + 5,
      completion_tokens: 5,
      prompt_tokens_details: { cached_tokens: PROMPT },
      completion_tokens_details: { reasoning_tokens: 3 },
    });
  });

  it('uses the "reasoning" field when configured', async () => {
    await withSim({ ttftMs: 0, itlMs: 0, reasoningTokens: 2, reasoningField: 'reasoning', outputTokens: 1 }, async (s2) => {
      const s = await postSse(s2.url + CHAT_PATH, { model: 'm', messages: msgs, stream: true });
      const deltas = s.events.filter((e) => e.json?.choices?.length).map((e) => e.json.choices[0].delta);
      expect(deltas).toEqual([{ role: 'assistant', content: '' }, { reasoning: 'let' }, { reasoning: ' me' }, { content: 'lorem' }]);
    });
  });

  it('streams tool-call deltas with finish_reason tool_calls', async () => {
    const s = await postSse(url(), { model: 'm', messages: msgs, stream: true }, { 'x-sim-tool-call': '1', 'x-sim-output-tokens': '3' });
    const choices = s.events.filter((e) => e.json?.choices?.length).map((e) => e.json.choices[0]);
    expect(choices[0].delta).toEqual({ role: 'assistant', content: '' });
    const first = choices[1].delta.tool_calls[0];
    expect(first).toEqual({ index: 0, id: expect.stringMatching(/^chatcmpl-tool-/), type: 'function', function: { name: 'sim_tool', arguments: '' } });
    const pieces = choices.slice(2).map((c: any) => c.delta.tool_calls[0]);
    for (const p of pieces) expect(Object.keys(p).sort()).toEqual(['function', 'index']);
    expect(pieces.map((p: any) => p.function.arguments)).toEqual(['{"text": "lorem', ' ipsum', ' dolor"}']);
    expect(JSON.parse(pieces.map((p: any) => p.function.arguments).join(''))).toEqual({ text: 'lorem ipsum dolor' });
    expect(choices.map((c: any) => c.finish_reason)).toEqual([null, null, null, null, 'tool_calls']);
  });

  it('tool_choice "none" suppresses tools; a named tool_choice finishes with "stop"', async () => {
    const tools = [{ type: 'function', function: { name: 'a' } }, { type: 'function', function: { name: 'b' } }];
    const none = await postJson(url(), { model: 'm', messages: msgs, tools, tool_choice: 'none' });
    expect(none.json.choices[0].message.tool_calls).toBeUndefined();
    expect(none.json.choices[0].finish_reason).toBe('stop');
    const named = await postJson(url(), { model: 'm', messages: msgs, tools, tool_choice: { type: 'function', function: { name: 'b' } } });
    expect(named.json.choices[0].message.tool_calls[0].function.name).toBe('b');
    expect(named.json.choices[0].finish_reason).toBe('stop');
  });
});
