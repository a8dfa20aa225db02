/**
 * The client gets exactly what the upstream would have sent for its original request: for every shape of
 * `stream_options`, against the simulator as vLLM and as the OpenAI API, the bytes the official openai SDK
 * receives through tokentap equal the bytes it receives directly, event for event (ids and timestamps aside).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricSum } from '../helpers/prom.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

let s: Stack;
let direct: OpenAI;
beforeAll(async () => {
  s = await startStack({ ttftMs: 2, itlMs: 1 });
  direct = new OpenAI({ baseURL: `${s.sim.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
});
afterAll(() => s.close());

/** The stream's text with what differs between two runs of the same request (ids, timestamps) blanked. */
const normalise = (text: string) => text.replace(/"id":"[^"]*"/g, '"id":"…"').replace(/"created":\d+/g, '"created":0');

const CASES: [string, Record<string, unknown>][] = [
  ['no stream_options', {}],
  ['stream_options null', { stream_options: null }],
  ['stream_options {}', { stream_options: {} }],
  ['continuous_usage_stats only', { stream_options: { continuous_usage_stats: true } }],
  ['include_usage false', { stream_options: { include_usage: false } }],
  ['include_usage false + continuous_usage_stats', { stream_options: { include_usage: false, continuous_usage_stats: true } }],
  ['include_usage true', { stream_options: { include_usage: true } }],
];

async function rawStream(client: OpenAI, endpoint: 'chat' | 'completions', flavor: string, extra: Record<string, unknown>): Promise<string> {
  const options = { headers: { 'x-sim-flavor': flavor } };
  const body = { model: 'transparent', stream: true as const, max_tokens: 4, ...extra } as Record<string, unknown>;
  const res =
    endpoint === 'chat'
      ? await client.chat.completions
          .create({ ...body, messages: [{ role: 'user', content: 'one two three' }] } as unknown as OpenAI.ChatCompletionCreateParamsStreaming, options)
          .asResponse()
      : await client.completions.create({ ...body, prompt: 'one two three' } as unknown as OpenAI.CompletionCreateParamsStreaming, options).asResponse();
  return res.text();
}

describe('the bytes through tokentap equal the bytes direct', () => {
  for (const flavor of ['vllm', 'openai']) {
    for (const endpoint of ['chat', 'completions'] as const) {
      for (const [name, extra] of CASES) {
        it(`${flavor}, ${endpoint}, ${name}`, async () => {
          const before = s.logLines().length;
          const directText = await rawStream(direct, endpoint, flavor, extra);
          const proxied = await rawStream(s.openai, endpoint, flavor, extra);
          expect(normalise(proxied)).toBe(normalise(directText));
          expect(proxied).toContain('data: [DONE]');
          // and the meter read exact tokens whenever the upstream reported them to tokentap
          await eventually(() => s.logLines().length > before);
          const line = s.logLines().at(-1)!;
          expect(line).toMatchObject({ outcome: 'ok', completion_tokens: 4 });
        });
      }
    }
  }

  it('counts stayed exact across all of them (usage reported whenever tokentap could ask for it)', async () => {
    const m = await s.metrics();
    const estimated = metricSum(m, 'tokentap_usage_estimated_total', { model: 'transparent' });
    const requests = metricSum(m, 'tokentap_requests_total', { model: 'transparent' });
    expect(requests).toBe(2 * 2 * CASES.length);
    // estimated only where the upstream sends no usage and tokentap may not ask for it, on both endpoints:
    // vLLM with include_usage false + continuous_usage_stats; OpenAI with {}, with continuous_usage_stats
    // only (no include_usage), and with include_usage false + continuous_usage_stats
    expect(estimated).toBe(2 * 4);
  });
});
