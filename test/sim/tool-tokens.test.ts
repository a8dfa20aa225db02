/**
 * Tool-call token accounting: like every event vLLM streams, the tool call's first chunk (id and function
 * name, `arguments: ""`) carries a token, so with one token per chunk usage.completion_tokens equals the
 * token-bearing events (non-empty content or reasoning, or a tool_calls delta). Otherwise a meter's TPOT,
 * span / (completion_tokens − 1), and its ITL count (events − 1) would disagree by one gap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSim } from '../../src/sim/server.js';
import { CHAT_PATH, postJson, postSse } from './helpers.js';

let sim: RunningSim;
beforeAll(async () => {
  sim = await startSimulator({ port: 0, ttftMs: 1, itlMs: 0, outputTokens: 5 });
});
afterAll(() => sim.close());

const messages = [{ role: 'user', content: 'call it' }];
const nonEmpty = (v: unknown): boolean => typeof v === 'string' && v !== '';

function tokenBearing(chunk: any): boolean {
  const d = chunk?.choices?.[0]?.delta;
  if (!d) return false;
  return nonEmpty(d.content) || nonEmpty(d.reasoning_content) || (Array.isArray(d.tool_calls) && d.tool_calls.length > 0);
}

async function toolStream(extra: Record<string, unknown>, headers: Record<string, string>) {
  const body = { model: 'm', messages, stream: true, stream_options: { include_usage: true }, ...extra };
  const s = await postSse(sim.url + CHAT_PATH, body, { 'x-sim-tool-call': '1', ...headers });
  const chunks = s.events.filter((e) => e.json).map((e) => e.json);
  const events = chunks.filter(tokenBearing);
  const args = events.map((c) => c.choices[0].delta.tool_calls?.[0]?.function.arguments ?? '').join('');
  const finish = chunks.map((c) => c.choices[0]?.finish_reason).find((f) => f);
  return { events: events.length, usage: chunks.at(-1).usage, args, finish };
}

describe('tool-call streams: completion_tokens == token-bearing events', () => {
  it.each([
    ['3 argument tokens', {}, { 'x-sim-output-tokens': '3' }, 4, 'tool_calls'],
    ['2 reasoning tokens first', {}, { 'x-sim-output-tokens': '3', 'x-sim-reasoning-tokens': '2' }, 6, 'tool_calls'],
    ['no argument words: the name chunk carries {"text": ""}', {}, { 'x-sim-output-tokens': '0' }, 1, 'tool_calls'],
    ['max_tokens 3: the name takes one of the 3', { max_tokens: 3 }, {}, 3, 'length'],
    ['max_tokens 1: the name only', { max_tokens: 1 }, {}, 1, 'length'],
  ])('%s', async (_name, extra, headers, expected, finish) => {
    const r = await toolStream(extra, headers);
    expect(r.events).toBe(expected);
    expect(r.usage.completion_tokens).toBe(expected);
    expect(r.finish).toBe(finish);
    expect(() => JSON.parse(r.args)).not.toThrow();
  });

  it('the running usage (continuous_usage_stats) counts the name chunk as it passes', async () => {
    const body = { model: 'm', messages, stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } };
    const s = await postSse(sim.url + CHAT_PATH, body, { 'x-sim-tool-call': '1', 'x-sim-output-tokens': '2' });
    const running = s.events.filter((e) => tokenBearing(e.json)).map((e) => e.json.usage.completion_tokens);
    expect(running).toEqual([1, 2, 3]);
  });

  it('a non-streaming answer reports the same usage as the stream', async () => {
    const r = await postJson(sim.url + CHAT_PATH, { model: 'm', messages }, { 'x-sim-tool-call': '1', 'x-sim-output-tokens': '3' });
    expect(JSON.parse(r.json.choices[0].message.tool_calls[0].function.arguments)).toEqual({ text: 'lorem ipsum dolor' });
    expect(r.json.usage.completion_tokens).toBe(4);
  });

  it('/v1/responses: output_tokens counts the function_call item announcing the name and each arguments delta', async () => {
    const body = { model: 'm', input: 'x', stream: true, tools: [{ type: 'function', name: 'lookup', parameters: {} }] };
    for (const [n, deltas] of [['2', 2], ['0', 1]] as const) {
      const s = await postSse(sim.url + '/v1/responses', body, { 'x-sim-output-tokens': n });
      const types = s.events.map((e) => e.event);
      expect(types.filter((t) => t === 'response.function_call_arguments.delta')).toHaveLength(deltas);
      expect(types.filter((t) => t === 'response.output_item.added')).toHaveLength(1);
      const done = s.events.at(-1)!.json.response;
      expect(done.usage.output_tokens).toBe(Number(n) + 1);
      expect(JSON.parse(done.output[0].arguments)).toEqual({ text: n === '2' ? 'lorem ipsum' : '' });
    }
  });
});
