/** The official openai SDK through tokentap to the simulator: every metered endpoint, exact token counts by value. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricSum } from '../helpers/prom.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack({ ttftMs: 10, itlMs: 2 });
});
afterAll(() => s.close());

const messages = [{ role: 'user' as const, content: 'one two three four five' }];

/** Waits for the request to be recorded, then returns the metrics text. */
async function recorded(n: number): Promise<string> {
  await eventually(() => s.logLines().length >= n);
  return s.metrics();
}

describe('through tokentap with the openai SDK', () => {
  it('streaming chat: content intact, usage injected upstream and stripped for the client, exact tokens', async () => {
    const before = s.logLines().length;
    const reference = await s.openai.chat.completions.create({ model: 'sdk-chat', messages, max_tokens: 6 });
    const stream = await s.openai.chat.completions.create({ model: 'sdk-chat', messages, max_tokens: 6, stream: true });
    let text = '';
    let sawUsage = false;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) sawUsage = true;
      expect(chunk.choices.length).toBeGreaterThan(0); // the injected usage-only chunk never reaches the client
    }
    expect(text).toBe(reference.choices[0].message.content);
    expect(sawUsage).toBe(false);
    expect(JSON.parse(s.sim.lastRequestBody() ?? '{}').stream_options).toEqual({ include_usage: true });

    const m = await recorded(before + 2);
    const labels = { model: 'sdk-chat', endpoint: 'chat_completions' };
    expect(metricSum(m, 'tokentap_requests_total', { ...labels, stream: 'true', code: '200', outcome: 'ok' })).toBe(1);
    expect(metricSum(m, 'tokentap_requests_total', { ...labels, stream: 'false', code: '200', outcome: 'ok' })).toBe(1);
    const prompt = reference.usage!.prompt_tokens;
    expect(reference.usage!.completion_tokens).toBe(6);
    expect(metricSum(m, 'tokentap_tokens_total', { ...labels, type: 'completion' })).toBe(12);
    expect(metricSum(m, 'tokentap_tokens_total', { ...labels, type: 'prompt' })).toBe(2 * prompt);
    expect(metricSum(m, 'tokentap_usage_estimated_total', labels)).toBe(0);
    expect(metricSum(m, 'tokentap_time_to_first_token_seconds_count', labels)).toBe(1);
    expect(metricSum(m, 'tokentap_inter_token_latency_seconds_count', labels)).toBe(5); // 6 token events, 5 gaps
    expect(metricSum(m, 'tokentap_time_per_output_token_seconds_count', labels)).toBe(1);
    expect(metricSum(m, 'tokentap_request_completion_tokens_sum', labels)).toBe(12);
    expect(metricSum(m, 'tokentap_requests_in_flight', labels)).toBe(0);
  });

  it('a client that asks for usage gets the usage chunk', async () => {
    const stream = await s.openai.chat.completions.create({
      model: 'sdk-usage',
      messages,
      max_tokens: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: { completion_tokens: number } | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    expect(usage?.completion_tokens).toBe(3);
  });

  it('streaming and non-streaming completions', async () => {
    const before = s.logLines().length;
    const full = await s.openai.completions.create({ model: 'sdk-cmpl', prompt: 'a b c', max_tokens: 4 });
    const stream = await s.openai.completions.create({ model: 'sdk-cmpl', prompt: 'a b c', max_tokens: 4, stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.text ?? '';
    expect(text).toBe(full.choices[0].text);
    const m = await recorded(before + 2);
    const labels = { model: 'sdk-cmpl', endpoint: 'completions' };
    expect(metricSum(m, 'tokentap_tokens_total', { ...labels, type: 'completion' })).toBe(8);
    expect(metricSum(m, 'tokentap_tokens_total', { ...labels, type: 'prompt' })).toBe(2 * full.usage!.prompt_tokens);
    expect(metricSum(m, 'tokentap_time_to_first_token_seconds_count', labels)).toBe(1);
  });

  it('Responses API, streaming and not: tokens from input_tokens/output_tokens', async () => {
    const before = s.logLines().length;
    const full = await s.openai.responses.create({ model: 'sdk-resp', input: 'x y z', max_output_tokens: 5 });
    expect(full.usage?.output_tokens).toBe(5);
    const stream = await s.openai.responses.create({ model: 'sdk-resp', input: 'x y z', max_output_tokens: 5, stream: true });
    let text = '';
    for await (const ev of stream) if (ev.type === 'response.output_text.delta') text += ev.delta;
    expect(text).toBe(full.output_text);
    const m = await recorded(before + 2);
    const labels = { model: 'sdk-resp', endpoint: 'responses' };
    expect(metricSum(m, 'tokentap_tokens_total', { ...labels, type: 'completion' })).toBe(10);
    expect(metricSum(m, 'tokentap_tokens_total', { ...labels, type: 'prompt' })).toBe(2 * full.usage!.input_tokens);
    expect(metricSum(m, 'tokentap_usage_estimated_total', labels)).toBe(0);
    expect(metricSum(m, 'tokentap_requests_total', { ...labels, stream: 'true', outcome: 'ok' })).toBe(1);
  });

  it('embeddings: prompt tokens only', async () => {
    const before = s.logLines().length;
    const e = await s.openai.embeddings.create({ model: 'sdk-emb', input: ['alpha beta', 'gamma'] });
    expect(e.data).toHaveLength(2);
    const m = await recorded(before + 1);
    const labels = { model: 'sdk-emb', endpoint: 'embeddings' };
    expect(metricSum(m, 'tokentap_tokens_total', { ...labels, type: 'prompt' })).toBe(e.usage.prompt_tokens);
    expect(metricSum(m, 'tokentap_tokens_total', { ...labels, type: 'completion' })).toBe(0);
    expect(metricSum(m, 'tokentap_request_completion_tokens_count', labels)).toBe(0);
  });

  it('tool calls stream through and count as content', async () => {
    const before = s.logLines().length;
    const stream = await s.openai.chat.completions.create({
      model: 'sdk-tools',
      messages,
      stream: true,
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }],
    });
    let args = '';
    let finish: string | null | undefined;
    for await (const c of stream) {
      args += c.choices[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('tool_calls');
    expect(() => JSON.parse(args)).not.toThrow();
    await eventually(() => s.logLines().length > before);
    expect(s.logLines()[before]).toMatchObject({ model: 'sdk-tools', endpoint: 'chat_completions', outcome: 'ok', usage: 'reported' });
    expect(s.logLines()[before].ttfc_ms).toBe(s.logLines()[before].ttft_ms);
  });

  it('reasoning: TTFT at the first reasoning delta, TTFC later at the first content', async () => {
    const before = s.logLines().length;
    const stream = await s.openai.chat.completions.create(
      { model: 'sdk-reason', messages, max_tokens: 3, stream: true },
      { headers: { 'x-sim-reasoning-tokens': '5', 'x-sim-ttft-ms': '10', 'x-sim-itl-ms': '20' } },
    );
    for await (const _ of stream) void _;
    await eventually(() => s.logLines().length > before);
    const line = s.logLines()[before] as { ttft_ms: number; ttfc_ms: number; reasoning_tokens: number | null; completion_tokens: number };
    // the simulator's schedule is absolute: the first content token never leaves before 10 + 5 × 20 ms, however
    // late the first reasoning delta was (a gap bound, ttfc − ttft ≥ 95, fails when that delta is stalled)
    expect(line.ttft_ms).toBeGreaterThanOrEqual(10);
    expect(line.ttfc_ms).toBeGreaterThanOrEqual(10 + 5 * 20);
    expect(line.ttfc_ms).toBeGreaterThan(line.ttft_ms);
    expect(line.reasoning_tokens).toBe(5);
    const m = await s.metrics();
    expect(metricSum(m, 'tokentap_tokens_total', { model: 'sdk-reason', type: 'reasoning' })).toBe(5);
  });

  it('non-metered paths are forwarded and counted as endpoint="other"', async () => {
    const models = await s.openai.models.list();
    expect(models.data.length).toBeGreaterThan(0);
    const res = await fetch(`${s.tap.proxyUrl}/health`);
    expect(res.status).toBe(200);
    const m = await s.metrics();
    expect(metricSum(m, 'tokentap_requests_total', { endpoint: 'other', model: 'unknown', code: '200', outcome: 'ok' })).toBeGreaterThanOrEqual(2);
  });
});
