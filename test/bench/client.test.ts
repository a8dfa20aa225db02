import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import { StreamTimer, buildBody, endpointUrl, sendRequest } from '../../src/bench/client.js';

const chunk = (delta: Record<string, unknown>) => JSON.stringify({ choices: [{ index: 0, delta }] });

describe('StreamTimer (the proxy definitions)', () => {
  it('times token events only: role-only and empty chunks are not tokens; reasoning is a token, not content', () => {
    const t = new StreamTimer();
    t.onEvent(undefined, chunk({ role: 'assistant' }), 5);
    t.onEvent(undefined, chunk({ content: '' }), 6);
    t.onEvent(undefined, chunk({ reasoning_content: 'hm' }), 10);
    t.onEvent(undefined, chunk({ content: 'Hi' }), 14);
    t.onEvent(undefined, chunk({ content: ' there' }), 20);
    t.onEvent(undefined, chunk({ tool_calls: [{ index: 0, function: { arguments: '{' } }] }), 30);
    t.onEvent(undefined, JSON.stringify({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 5 } }), 31);
    t.onEvent(undefined, '[DONE]', 32);
    expect(t.firstToken).toBe(10);
    expect(t.firstContent).toBe(14);
    expect(t.lastToken).toBe(30);
    expect(t.itl).toEqual([4, 6, 10]);
    expect(t.tokenEvents).toBe(4);
    expect(t.sseEvents).toBe(8);
    expect(t.promptTokens).toBe(12);
    expect(t.completionTokens).toBe(5);
    expect(t.finished).toBe(true);
  });

  it('handles legacy completions text and Responses-API events', () => {
    const t = new StreamTimer();
    t.onEvent(undefined, JSON.stringify({ choices: [{ text: 'a' }] }), 1);
    t.onEvent(undefined, JSON.stringify({ choices: [{ text: '' }] }), 2);
    expect(t.tokenEvents).toBe(1);
    const r = new StreamTimer();
    r.onEvent('response.created', JSON.stringify({ type: 'response.created', response: {} }), 1);
    r.onEvent('response.reasoning_text.delta', JSON.stringify({ type: 'response.reasoning_text.delta', delta: 'x' }), 3);
    r.onEvent('response.output_text.delta', JSON.stringify({ type: 'response.output_text.delta', delta: 'y' }), 7);
    r.onEvent(
      'response.completed',
      JSON.stringify({ type: 'response.completed', response: { usage: { input_tokens: 4, output_tokens: 2 } } }),
      8,
    );
    expect([r.firstToken, r.firstContent, r.lastToken]).toEqual([3, 7, 7]);
    expect([r.promptTokens, r.completionTokens, r.finished]).toEqual([4, 2, true]);
  });
});

describe('buildBody / endpointUrl', () => {
  it('asks for usage when streaming chat/completions', () => {
    expect(buildBody({ endpoint: 'chat', model: 'm', prompt: 'p', maxTokens: 3, stream: true })).toEqual({
      model: 'm',
      messages: [{ role: 'user', content: 'p' }],
      max_tokens: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(buildBody({ endpoint: 'completions', model: 'm', prompt: 'p', maxTokens: 3, stream: false, extraBody: { ignore_eos: true } })).toEqual({
      model: 'm',
      prompt: 'p',
      max_tokens: 3,
      stream: false,
      ignore_eos: true,
    });
    expect(buildBody({ endpoint: 'responses', model: 'm', prompt: 'p', maxTokens: 3, stream: true })).toEqual({
      model: 'm',
      input: 'p',
      max_output_tokens: 3,
      stream: true,
    });
    expect(endpointUrl('http://h:1/v1/', 'chat')).toBe('http://h:1/v1/chat/completions');
    expect(endpointUrl('http://h:1/v1', 'responses')).toBe('http://h:1/v1/responses');
  });
});

describe('sendRequest against a scripted server', () => {
  let server: Server;
  let base: string;
  const agent = new Agent({ connections: 4 });
  beforeAll(async () => {
    server = createServer((req, res) => {
      void (async () => {
        const id = req.headers['x-request-id'];
        const mode = req.url ?? '';
        if (mode.startsWith('/err')) {
          res.writeHead(429, { 'content-type': 'application/json', 'x-request-id': String(id) });
          res.end('{"error":{"message":"slow down"}}');
          return;
        }
        if (mode.startsWith('/json')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ choices: [{ message: { content: 'hi' } }], usage: { prompt_tokens: 3, completion_tokens: 2 } }));
          return;
        }
        res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': String(id) });
        const send = (d: string) => res.write(`data: ${d}\n\n`);
        const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
        send(chunk({ role: 'assistant' }));
        await wait(40);
        for (let i = 0; i < 3; i++) {
          send(chunk({ content: `t${i}` }));
          await wait(20);
        }
        if (mode.startsWith('/cut')) {
          res.destroy();
          return;
        }
        send(JSON.stringify({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 3 } }));
        send('[DONE]');
        res.end();
      })();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await agent.close();
    await new Promise((r) => server.close(r));
  });

  const spec = (path: string, stream = true) => ({
    index: 0,
    requestId: 'bench-t-0',
    url: base + path,
    headers: { 'content-type': 'application/json' },
    body: '{}',
    stream,
    requestedPromptTokens: 3,
    requestedMaxTokens: 3,
  });

  it('measures a stream', async () => {
    const r = await sendRequest(spec('/ok'), agent, 0, new AbortController().signal);
    expect(r.ok).toBe(true);
    expect(r.responseRequestId).toBe('bench-t-0');
    expect(r.ttftMs!).toBeGreaterThanOrEqual(38);
    expect(r.ttftMs!).toBeLessThan(200);
    expect(r.ttfcMs).toBe(r.ttftMs);
    expect(r.itlMs).toHaveLength(2);
    for (const g of r.itlMs) expect(g).toBeGreaterThanOrEqual(15);
    expect(r.tpotMs).toBeCloseTo((r.itlMs[0] + r.itlMs[1]) / 2, 6);
    expect(r.e2eMs!).toBeGreaterThan(r.ttftMs!);
    expect([r.promptTokens, r.completionTokens, r.usage, r.tokenEvents, r.sseEvents]).toEqual([3, 3, 'reported', 3, 6]);
  });

  it('records HTTP errors, cut streams and connection errors without throwing', async () => {
    const e = await sendRequest(spec('/err'), agent, 0, new AbortController().signal);
    expect([e.ok, e.status, e.error]).toEqual([false, 429, 'HTTP 429']);
    expect(e.errorMessage).toContain('slow down');
    const c = await sendRequest(spec('/cut'), agent, 0, new AbortController().signal);
    expect(c.ok).toBe(false);
    expect(c.ttftMs).not.toBeNull();
    const dead = await sendRequest({ ...spec(''), url: 'http://127.0.0.1:1/x' }, agent, 0, new AbortController().signal);
    expect(dead.ok).toBe(false);
    expect(dead.error).toBe('ECONNREFUSED');
  });

  it('reads usage from a non-streaming body', async () => {
    const r = await sendRequest(spec('/json', false), agent, 0, new AbortController().signal);
    expect([r.ok, r.ttftMs, r.promptTokens, r.completionTokens, r.usage]).toEqual([true, null, 3, 2, 'reported']);
    expect(r.e2eMs).toBeGreaterThan(0);
  });
});
