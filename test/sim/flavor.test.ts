/**
 * The two streaming usage flavors, asserted on the parsed chunks (member order included). vLLM serialises its
 * chunks with exclude_unset: no usage member until the final usage chunk, and `stream_options: {}` means
 * include_usage true (its default). OpenAI, with include_usage true, ends every chunk with `"usage":null`;
 * `stream_options: {}` asks for no usage there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSimOptions, type SimFlavor } from '../../src/sim/options.js';
import { startSimulator, type RunningSim } from '../../src/sim/server.js';
import { CHAT_PATH, postSse, withSim, type RawStream } from './helpers.js';

let sim: RunningSim; // the default flavor, vllm
beforeAll(async () => {
  sim = await startSimulator({ port: 0, ttftMs: 1, itlMs: 0, outputTokens: 3 });
});
afterAll(() => sim.close());

const COMPLETIONS_PATH = '/v1/completions';
const ENVELOPE = ['id', 'object', 'created', 'model', 'choices'];

function post(path: string, streamOptions: unknown, flavor?: SimFlavor | string, base = sim.url): Promise<RawStream> {
  const body: Record<string, unknown> =
    path === CHAT_PATH ? { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true } : { model: 'm', prompt: 'hi', stream: true };
  if (streamOptions !== undefined) body.stream_options = streamOptions;
  return postSse(base + path, body, flavor === undefined ? {} : { 'x-sim-flavor': flavor });
}

/** The stream's chunks before the usage chunk, and the usage chunk (`choices: []`) if there is one. */
function parts(s: RawStream): { chunks: any[]; data: string[]; usageChunk: any } {
  expect(s.status).toBe(200);
  expect(s.events.at(-1)!.data).toBe('[DONE]');
  const events = s.events.slice(0, -1);
  const last = events.at(-1)!.json;
  const n = last.choices.length === 0 ? events.length - 1 : events.length;
  return { chunks: events.slice(0, n).map((e) => e.json), data: events.slice(0, n).map((e) => e.data), usageChunk: n < events.length ? last : undefined };
}

describe.each([CHAT_PATH, COMPLETIONS_PATH])('%s streaming usage flavors', (path) => {
  const tokenChunks = path === CHAT_PATH ? 4 : 3; // chat: the role chunk + 3 tokens

  it('openai, include_usage true: every chunk ends with "usage":null, then the usage chunk and [DONE]', async () => {
    const { chunks, data, usageChunk } = parts(await post(path, { include_usage: true }, 'openai'));
    expect(chunks).toHaveLength(tokenChunks);
    for (const [i, c] of chunks.entries()) {
      expect(Object.keys(c)).toEqual([...ENVELOPE, 'usage']);
      expect(c.usage).toBeNull();
      expect(data[i]!.endsWith('],"usage":null}')).toBe(true); // the bytes, not just the parse
    }
    expect(Object.keys(usageChunk)).toEqual([...ENVELOPE, 'usage']);
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toEqual({ prompt_tokens: 1, total_tokens: 4, completion_tokens: 3 });
  });

  it('vllm, include_usage true: no usage member before the usage chunk', async () => {
    for (const flavor of [undefined, 'vllm']) {
      const { chunks, usageChunk } = parts(await post(path, { include_usage: true }, flavor));
      expect(chunks).toHaveLength(tokenChunks);
      for (const c of chunks) expect(Object.keys(c)).toEqual(ENVELOPE);
      expect(Object.keys(usageChunk)).toEqual([...ENVELOPE, 'usage']);
      expect(usageChunk.usage).toEqual({ prompt_tokens: 1, total_tokens: 4, completion_tokens: 3 });
    }
  });

  it('without include_usage (absent, false, null): no usage member anywhere, in either flavor', async () => {
    for (const flavor of ['vllm', 'openai']) {
      for (const so of [undefined, null, { include_usage: false }, { include_usage: null }]) {
        const s = await post(path, so, flavor);
        const { chunks, usageChunk } = parts(s);
        expect(usageChunk).toBeUndefined();
        for (const c of chunks) expect(Object.keys(c)).toEqual(ENVELOPE);
        expect(s.raw).not.toContain('usage');
      }
    }
  });

  it('stream_options {}: vllm sends the usage chunk (include_usage defaults to true), openai sends no usage', async () => {
    const v = parts(await post(path, {}, 'vllm'));
    for (const c of v.chunks) expect(Object.keys(c)).toEqual(ENVELOPE);
    expect(v.usageChunk.usage.completion_tokens).toBe(3);
    const o = await post(path, {}, 'openai');
    expect(parts(o).usageChunk).toBeUndefined();
    expect(o.raw).not.toContain('usage');
  });

  it('continuous_usage_stats: running usage on every chunk in vllm; openai has no such option (usage:null)', async () => {
    const so = { include_usage: true, continuous_usage_stats: true };
    const v = parts(await post(path, so, 'vllm'));
    expect(v.chunks.at(-1).usage).toEqual({ prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 });
    const o = parts(await post(path, so, 'openai'));
    for (const c of o.chunks) expect(c.usage).toBeNull();
    expect(o.usageChunk.usage.completion_tokens).toBe(3);
  });
});

describe('choosing the flavor', () => {
  it('SimOptions.flavor sets the default; x-sim-flavor overrides it per request (empty: the default)', async () => {
    await withSim({ ttftMs: 1, itlMs: 0, outputTokens: 2, flavor: 'openai' }, async (s) => {
      expect(s.options.flavor).toBe('openai');
      for (const flavor of [undefined, '', 'openai']) {
        for (const c of parts(await post(CHAT_PATH, { include_usage: true }, flavor, s.url)).chunks) expect(c.usage).toBeNull();
      }
      for (const c of parts(await post(CHAT_PATH, { include_usage: true }, 'vllm', s.url)).chunks) expect(c).not.toHaveProperty('usage');
    });
    expect(sim.options.flavor).toBe('vllm');
  });

  it('an unknown flavor is a 400 (header) or a RangeError (option)', async () => {
    const s = await post(CHAT_PATH, { include_usage: true }, 'anthropic');
    expect(s.status).toBe(400);
    expect(JSON.parse(s.raw).error).toMatchObject({ type: 'BadRequestError', param: 'x-sim-flavor', code: 400 });
    expect(() => resolveSimOptions({ flavor: 'anthropic' as SimFlavor })).toThrow(RangeError);
  });
});
