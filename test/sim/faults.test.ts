import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSim } from '../../src/sim/server.js';
import { CHAT_PATH, nextEvent, postJson, postSse, rawRequest, sleep, waitFor, withSim } from './helpers.js';

let sim: RunningSim;
const chat = { model: 'm', messages: [{ role: 'user', content: 'hi there' }], stream: true, stream_options: { include_usage: true } };
const url = (): string => sim.url + CHAT_PATH;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, ttftMs: 2, itlMs: 2, outputTokens: 6 });
});
afterAll(() => sim.close());

/** Collect everything a raw socket receives until it closes. */
function collect(sock: import('node:net').Socket): Promise<string> {
  let data = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => (data += d));
  return new Promise((resolve) => sock.on('close', () => resolve(data)));
}

describe('HTTP error faults', () => {
  for (const [fault, status, type] of [
    ['http-400', 400, 'BadRequestError'],
    ['http-429', 429, 'RateLimitError'],
    ['http-500', 500, 'InternalServerError'],
    ['http-503', 503, 'ServiceUnavailableError'],
  ] as const) {
    it(`${fault} answers ${status} with a vLLM error body`, async () => {
      const r = await postJson(url(), chat, { 'x-sim-fault': fault });
      expect(r.status).toBe(status);
      expect(r.headers.get('content-type')).toBe('application/json');
      expect(r.json).toEqual({ error: { message: expect.stringContaining(fault), type, param: null, code: status } });
      expect(r.headers.get('retry-after')).toBe(status === 429 ? '1' : null);
    });
  }
});

describe('stream faults', () => {
  it('inband-error: some chunks, then data: {"error"} and [DONE], no usage chunk', async () => {
    const s = await postSse(url(), chat, { 'x-sim-fault': 'inband-error', 'x-sim-fault-after': '3' });
    expect(s.status).toBe(200);
    const contents = s.events.filter((e) => e.json?.choices?.[0]?.delta?.content).map((e) => e.json.choices[0].delta.content);
    expect(contents).toEqual(['lorem', ' ipsum', ' dolor']);
    expect(s.events.at(-2)!.json).toEqual({ error: { message: expect.any(String), type: 'InternalServerError', param: null, code: 500 } });
    expect(s.events.at(-1)!.data).toBe('[DONE]');
    expect(s.raw).not.toContain('"choices":[]');
  });

  it('inband-error surfaces as an APIError in the OpenAI SDK', async () => {
    const client = new OpenAI({ baseURL: sim.url + '/v1', apiKey: 'x', defaultHeaders: { 'x-sim-fault': 'inband-error' } });
    const stream = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true });
    await expect(
      (async () => {
        for await (const _ of stream) void _;
      })(),
    ).rejects.toThrow(/Simulated generation failure/);
  });

  it('inband-error on /v1/responses is an `event: error`; on a non-streaming request a 500', async () => {
    const s = await postSse(sim.url + '/v1/responses', { model: 'm', input: 'x', stream: true }, { 'x-sim-fault': 'inband-error', 'x-sim-fault-after': '0' });
    expect(s.events.at(-1)!.event).toBe('error');
    expect(s.events.at(-1)!.json).toMatchObject({ type: 'error', code: 'InternalServerError', param: null });
    const r = await postJson(url(), { ...chat, stream: false, stream_options: undefined }, { 'x-sim-fault': 'inband-error' });
    expect(r.status).toBe(500);
  });

  it('die: 200 stream, some chunks, then the socket is destroyed (no [DONE])', async () => {
    const ended = nextEvent(sim, 'end');
    const before = sim.stats.died;
    const sock = rawRequest(sim.port, CHAT_PATH, chat, { 'x-sim-fault': 'die' });
    const data = await collect(sock);
    expect(data.startsWith('HTTP/1.1 200 OK')).toBe(true);
    expect(data).toContain('"content":"lorem"');
    expect(data).toContain('"content":" ipsum"');
    expect(data).not.toContain(' dolor');
    expect(data).not.toContain('[DONE]');
    expect(data).not.toContain('\r\n0\r\n\r\n'); // no terminating chunk
    expect((await ended).outcome).toBe('died');
    expect(sim.stats.died).toBe(before + 1);
  });

  it('die on a non-streaming request drops the connection', async () => {
    await expect(postJson(url(), { ...chat, stream: false, stream_options: undefined }, { 'x-sim-fault': 'die' })).rejects.toThrow();
  });

  it('stall: some chunks, then silence until the client goes away (recorded as abort)', async () => {
    const before = sim.stats.aborted;
    const sock = rawRequest(sim.port, CHAT_PATH, chat, { 'x-sim-fault': 'stall', 'x-sim-fault-after': '1' });
    let data = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (data += d));
    await waitFor(() => data.includes('"content":"lorem"'));
    await sleep(250);
    expect(data).not.toContain(' ipsum');
    expect(sim.stats.active).toBeGreaterThanOrEqual(1);
    const abort = nextEvent(sim, 'abort');
    sock.destroy();
    expect((await abort).at).toBeGreaterThan(0);
    expect(sim.stats.aborted).toBe(before + 1);
  });

  it('no-headers: nothing is ever sent; close() ends held and stalled requests', async () => {
    await withSim({ ttftMs: 0, itlMs: 0 }, async (s2) => {
      const held = rawRequest(s2.port, CHAT_PATH, chat, { 'x-sim-fault': 'no-headers' });
      const stalled = rawRequest(s2.port, CHAT_PATH, chat, { 'x-sim-fault': 'stall' });
      const heldData = collect(held);
      const stalledData = collect(stalled);
      await waitFor(() => s2.stats.requests === 2);
      await sleep(200);
      expect(s2.stats.active).toBe(2);
      await s2.close();
      expect(await heldData).toBe('');
      expect(await stalledData).toContain('HTTP/1.1 200 OK');
      expect(s2.stats.active).toBe(0);
      expect(await s2.stats.openConnections()).toBe(0);
    });
  });

  it('weird-framing: CRLF, comments, event/id fields and one non-JSON event, same token counts', async () => {
    const s = await postSse(url(), chat, { 'x-sim-fault': 'weird-framing', 'x-sim-output-tokens': '4' });
    expect(s.status).toBe(200);
    expect(s.raw).toContain('\r\n');
    expect(s.raw.replaceAll('\r\n', '')).not.toContain('\n');
    expect(s.raw.match(/^data: not-json\r$/gm)).toHaveLength(1);
    expect(s.events.every((e) => e.comments.length === 1 && e.event === 'message' && e.id !== undefined)).toBe(true);
    const contents = s.events.filter((e) => e.json?.choices?.[0]?.delta?.content).map((e) => e.json.choices[0].delta.content);
    expect(contents.join('')).toBe('lorem ipsum dolor sit');
    expect(s.events.at(-2)!.json.usage).toEqual({ prompt_tokens: 2, total_tokens: 6, completion_tokens: 4 });
    expect(s.events.at(-1)!.data).toBe('[DONE]');
  });
});

describe('weird-framing on other endpoints', () => {
  it('completions and responses keep normal token counts', async () => {
    const c = await postSse(sim.url + '/v1/completions', { model: 'm', prompt: 'a b', stream: true, stream_options: { include_usage: true } }, { 'x-sim-fault': 'weird-framing' });
    expect(c.raw.match(/^data: not-json\r$/gm)).toHaveLength(1);
    expect(c.events.filter((e) => e.json?.choices?.length).map((e) => e.json.choices[0].text).join('')).toBe('lorem ipsum dolor sit amet consectetur');
    expect(c.events.at(-2)!.json.usage).toEqual({ prompt_tokens: 2, total_tokens: 8, completion_tokens: 6 });
    const r = await postSse(sim.url + '/v1/responses', { model: 'm', input: 'x', stream: true }, { 'x-sim-fault': 'weird-framing' });
    expect(r.raw.match(/^data: not-json\r$/gm)).toHaveLength(1);
    const last = r.events.at(-1)!;
    expect(last.event).toBe('response.completed');
    expect(last.json.response.usage.output_tokens).toBe(6);
  });
});

describe('random faults', () => {
  async function statuses(seed: number, n: number): Promise<number[]> {
    return withSim({ ttftMs: 0, itlMs: 0, outputTokens: 1, errorRate: 0.5, seed, faults: ['http-500', 'http-503'] }, async (s2) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await postJson(s2.url + CHAT_PATH, { model: 'm', messages: [{ role: 'user', content: 'x' }] })).status);
      return out;
    });
  }

  it('errorRate picks faults with a seeded PRNG (reproducible)', async () => {
    const a = await statuses(7, 30);
    const b = await statuses(7, 30);
    expect(a).toEqual(b);
    expect(new Set(a)).toEqual(new Set([200, 500, 503]));
    const c = await statuses(8, 30);
    expect(c).not.toEqual(a);
  });

  it('random stream faults (soak mode) all terminate and are accounted for', async () => {
    await withSim({ ttftMs: 0, itlMs: 1, outputTokens: 4, errorRate: 0.6, seed: 11, faults: ['inband-error', 'die', 'http-429'] }, async (s2) => {
      const outcomes: string[] = [];
      for (let i = 0; i < 25; i++) {
        try {
          const s = await postSse(s2.url + CHAT_PATH, chat);
          outcomes.push(s.status !== 200 ? `http-${s.status}` : s.raw.includes('"error"') ? 'inband' : 'ok');
        } catch {
          outcomes.push('died');
        }
      }
      expect(new Set(outcomes)).toEqual(new Set(['ok', 'inband', 'died', 'http-429']));
      await waitFor(() => s2.stats.active === 0);
      expect(s2.stats.requests).toBe(25);
      expect(s2.stats.died).toBe(outcomes.filter((o) => o === 'died').length);
      expect(s2.stats.completed + s2.stats.died).toBe(25);
    });
  });

  it('errorRate 1 faults every generation request but not /health', async () => {
    await withSim({ ttftMs: 0, errorRate: 1, faults: ['http-503'] }, async (s2) => {
      expect((await postJson(s2.url + CHAT_PATH, { model: 'm', messages: [{ role: 'user', content: 'x' }] })).status).toBe(503);
      expect((await fetch(s2.url + '/health')).status).toBe(200);
    });
  });
});
