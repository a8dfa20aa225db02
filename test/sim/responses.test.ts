import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSim } from '../../src/sim/server.js';
import { postJson, postSse } from './helpers.js';

let sim: RunningSim;
let client: OpenAI;
const url = (): string => sim.url + '/v1/responses';

beforeAll(async () => {
  sim = await startSimulator({ port: 0, ttftMs: 5, itlMs: 1, outputTokens: 3 });
  client = new OpenAI({ baseURL: sim.url + '/v1', apiKey: 'x' });
});
afterAll(() => sim.close());

describe('responses API', () => {
  it('non-streaming response object with usage', async () => {
    const r = await client.responses.create({ model: 'r-model', input: 'four words of input', instructions: 'two more' });
    expect(r.object).toBe('response');
    expect(r.id).toMatch(/^resp_[0-9a-f]{32}$/);
    expect(r.model).toBe('r-model');
    expect(r.status).toBe('completed');
    expect(r.output_text).toBe('lorem ipsum dolor');
    expect(r.output).toHaveLength(1);
    expect(r.output[0]).toMatchObject({ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'lorem ipsum dolor', annotations: [] }] });
    expect(r.usage).toEqual({
      input_tokens: 6,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 3,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 9,
    });
  });

  it('max_output_tokens cuts the output and marks the response incomplete', async () => {
    const r = await postJson(url(), { model: 'm', input: [{ role: 'user', content: 'a b c' }], max_output_tokens: 7 }, { 'x-sim-reasoning-tokens': '2', 'x-sim-cached-tokens': '1' });
    expect(r.json.status).toBe('incomplete');
    expect(r.json.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(r.json.output.map((o: any) => o.type)).toEqual(['reasoning', 'message']);
    expect(r.json.output[0].content).toEqual([{ type: 'reasoning_text', text: 'let me' }]);
    expect(r.json.usage).toEqual({
      input_tokens: 3,
      input_tokens_details: { cached_tokens: 1 },
      output_tokens: 9,
      output_tokens_details: { reasoning_tokens: 2 },
      total_tokens: 12,
    });
  });

  it('streams vLLM event types with sequence numbers (SDK)', async () => {
    const stream = await client.responses.create({ model: 'm', input: 'hi', stream: true });
    const types: string[] = [];
    const seqs: number[] = [];
    let text = '';
    let completed: any;
    for await (const e of stream) {
      types.push(e.type);
      seqs.push(e.sequence_number);
      if (e.type === 'response.output_text.delta') text += e.delta;
      if (e.type === 'response.completed') completed = e.response;
    }
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(seqs).toEqual(types.map((_, i) => i));
    expect(text).toBe('lorem ipsum dolor');
    expect(completed.usage.output_tokens).toBe(3);
    expect(completed.output_text ?? completed.output[0].content[0].text).toBe('lorem ipsum dolor');
  });

  it('wire format: event lines, reasoning items first, no [DONE]', async () => {
    const s = await postSse(url(), { model: 'm', input: 'x', stream: true }, { 'x-sim-reasoning-tokens': '2', 'x-sim-output-tokens': '1' });
    expect(s.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(s.raw).not.toContain('[DONE]');
    for (const e of s.events) expect(e.event).toBe(e.json.type);
    expect(s.events.map((e) => e.event)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.reasoning_text.delta',
      'response.reasoning_text.delta',
      'response.reasoning_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const j = s.events.map((e) => e.json);
    expect(j[2]).toMatchObject({ output_index: 0, item: { type: 'reasoning', status: 'in_progress' } });
    expect(j[5].delta).toBe(' me');
    expect(j[6].text).toBe('let me');
    expect(j[9]).toMatchObject({ output_index: 1, item: { type: 'message', status: 'in_progress', content: [] } });
    expect(j[11]).toMatchObject({ output_index: 1, content_index: 0, delta: 'lorem' });
    expect(j[0].response).toMatchObject({ status: 'in_progress', usage: null, output: [] });
    expect(j[15].response.usage).toEqual({
      input_tokens: 1,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 3,
      output_tokens_details: { reasoning_tokens: 2 },
      total_tokens: 4,
    });
  });

  it('streams function calls when tools are given', async () => {
    const s = await postSse(url(), { model: 'm', input: 'x', stream: true, tools: [{ type: 'function', name: 'lookup', parameters: {} }] }, { 'x-sim-output-tokens': '2' });
    const j = s.events.map((e) => e.json);
    expect(s.events.map((e) => e.event)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(j[2].item).toMatchObject({ type: 'function_call', name: 'lookup', arguments: '', status: 'in_progress' });
    expect(j[5].arguments).toBe('{"text": "lorem ipsum"}');
    expect(j[7].response.output[0]).toMatchObject({ type: 'function_call', name: 'lookup', arguments: '{"text": "lorem ipsum"}', status: 'completed' });
  });

  it('rejects a missing input', async () => {
    const r = await postJson(url(), { model: 'm' });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ type: 'BadRequestError', param: 'input', code: 400 });
  });
});
