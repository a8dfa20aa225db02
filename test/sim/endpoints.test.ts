import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSim } from '../../src/sim/server.js';
import { CHAT_PATH, postJson } from './helpers.js';

let sim: RunningSim;
let client: OpenAI;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, ttftMs: 2, itlMs: 0, model: 'sim/served-model', maxModelLen: 4096 });
  client = new OpenAI({ baseURL: sim.url + '/v1', apiKey: 'x' });
});
afterAll(() => sim.close());

describe('embeddings', () => {
  it('returns deterministic unit vectors via the SDK (base64 on the wire)', async () => {
    const r = await client.embeddings.create({ model: 'e-model', input: ['alpha beta', 'gamma'] });
    expect(r.object).toBe('list');
    expect(r.model).toBe('e-model');
    expect(r.data.map((d) => [d.index, d.object, d.embedding.length])).toEqual([
      [0, 'embedding', 8],
      [1, 'embedding', 8],
    ]);
    expect(r.usage).toEqual({ prompt_tokens: 3, total_tokens: 3, completion_tokens: 0, prompt_tokens_details: null });
    const norm = Math.hypot(...r.data[0]!.embedding);
    expect(norm).toBeCloseTo(1, 5);
    const again = await client.embeddings.create({ model: 'e-model', input: 'alpha beta', encoding_format: 'float' });
    expect(again.data[0]!.embedding).toEqual(Array.from(r.data[0]!.embedding));
    expect(again.data[0]!.embedding).not.toEqual(Array.from(r.data[1]!.embedding));
  });

  it('supports token-id inputs, dimensions and validates encoding_format', async () => {
    const r = await postJson(sim.url + '/v1/embeddings', { model: 'm', input: [[1, 2, 3], [4, 5]], dimensions: 4 });
    expect(r.json.usage.prompt_tokens).toBe(5);
    expect(r.json.data[1].embedding).toHaveLength(4);
    const single = await postJson(sim.url + '/v1/embeddings', { model: 'm', input: [7, 8, 9] });
    expect(single.json.data).toHaveLength(1);
    const bad = await postJson(sim.url + '/v1/embeddings', { model: 'm', input: 'x', encoding_format: 'hex' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.param).toBe('encoding_format');
  });
});

describe('info endpoints and routing', () => {
  it('GET /v1/models lists the served model (SDK)', async () => {
    const page = await client.models.list();
    expect(page.data).toHaveLength(1);
    expect(page.data[0]).toMatchObject({ id: 'sim/served-model', object: 'model', owned_by: 'vllm', root: 'sim/served-model', max_model_len: 4096 });
  });

  it('GET /health is 200 with an empty body; /version returns a version', async () => {
    const h = await fetch(sim.url + '/health');
    expect(h.status).toBe(200);
    expect(await h.text()).toBe('');
    expect(h.headers.get('content-length')).toBe('0');
    const v = await fetch(sim.url + '/version');
    expect(await v.json()).toEqual({ version: '0.11.0+tokentap.sim' });
  });

  it('POST /tokenize counts like prompt_tokens', async () => {
    const r = await postJson(sim.url + '/tokenize', { model: 'm', prompt: 'one two  three' });
    expect(r.json).toMatchObject({ count: 3, max_model_len: 4096 });
    expect(r.json.tokens).toHaveLength(3);
    expect(r.json.tokens[0]).toBe((await postJson(sim.url + '/tokenize', { prompt: 'one' })).json.tokens[0]);
    const m = await postJson(sim.url + '/tokenize', { messages: [{ role: 'user', content: 'a b' }, { role: 'user', content: [{ type: 'text', text: 'c' }] }] });
    expect(m.json.count).toBe(3);
    const empty = await postJson(sim.url + '/tokenize', { prompt: '' });
    expect(empty.json).toMatchObject({ count: 1, tokens: [1] });
  });

  it('unknown paths are 404 and wrong methods 405, with the vLLM error shape', async () => {
    const r = await fetch(sim.url + '/v1/nope');
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({ error: { message: 'Not Found', type: 'Not Found', param: null, code: 404 } });
    const m = await fetch(sim.url + CHAT_PATH);
    expect(m.status).toBe(405);
    expect(((await m.json()) as any).error.code).toBe(405);
  });

  it('invalid JSON is a 400 BadRequestError', async () => {
    const r = await postJson(sim.url + CHAT_PATH, '{not json');
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ type: 'BadRequestError', code: 400, param: null });
  });

  it('malformed x-sim-* headers are rejected', async () => {
    const r = await postJson(sim.url + CHAT_PATH, { model: 'm', messages: [{ role: 'user', content: 'x' }] }, { 'x-sim-output-tokens': 'many' });
    expect(r.status).toBe(400);
    expect(r.json.error.param).toBe('x-sim-output-tokens');
    const f = await postJson(sim.url + CHAT_PATH, { model: 'm', messages: [{ role: 'user', content: 'x' }] }, { 'x-sim-fault': 'explode' });
    expect(f.status).toBe(400);
  });

  it('x-sim-* headers are ignored outside generation endpoints', async () => {
    const r = await fetch(sim.url + '/v1/models', { headers: { 'x-sim-fault': 'http-500', 'x-sim-ttft-ms': 'junk' } });
    expect(r.status).toBe(200);
  });

  it('records the last request body/headers and emits request/end events', async () => {
    const seen: any[] = [];
    const onReq = (e: any): void => void seen.push(['request', e.method, e.path]);
    const onEnd = (e: any): void => void seen.push(['end', e.outcome]);
    sim.events.on('request', onReq);
    sim.events.on('end', onEnd);
    const before = { ...sim.stats };
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'secret-ish text' }], max_tokens: 1 });
    await postJson(sim.url + CHAT_PATH + '?x=1', body, { 'x-trace': 'abc' });
    sim.events.off('request', onReq);
    sim.events.off('end', onEnd);
    expect(sim.lastRequestBody()).toBe(body);
    expect(sim.lastRequestHeaders()!['x-trace']).toBe('abc');
    expect(seen).toEqual([
      ['request', 'POST', CHAT_PATH],
      ['end', 'completed'],
    ]);
    expect(sim.stats.requests - before.requests).toBe(1);
    expect(sim.stats.completed - before.completed).toBe(1);
    expect(sim.stats.active).toBe(0);
  });
});
