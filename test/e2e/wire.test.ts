/** Wire-level behaviour against scripted upstreams: exact bytes, no buffering, headers both ways. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningTokentap } from '../../src/server.js';
import { metricSum, scrape } from '../helpers/prom.js';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream.js';
import { startTap } from '../helpers/tap.js';
import { eventually } from '../helpers/wait.js';

let up: RawUpstream | undefined;
let tap: RunningTokentap | undefined;
afterEach(async () => {
  await tap?.close();
  await up?.close();
  tap = up = undefined;
});

const start = startTap;

const ev = (content: string) =>
  `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},"logprobs":null,"finish_reason":null}]}\n\n`;

/** A stream with odd-but-valid framing: the proxy must deliver it byte for byte. */
const ODD_STREAM = [': hello\r\n\r\n', 'data: {"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n', ev('Grüße 🙂'), 'event: x\r\nid: 7\r\ndata: not json\r\n\r\n', ev('end'), 'data: [DONE]\n\n'];

describe('bytes pass through', () => {
  it('when nothing is injected, the client gets the upstream bytes unchanged', async () => {
    up = await startRawUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const piece of ODD_STREAM) res.write(piece);
      res.end();
    });
    tap = await start(up.url);
    const body = JSON.stringify({ model: 'm', stream: true, stream_options: { include_usage: true }, messages: [] });
    const res = await request(`${tap.proxyUrl}/v1/chat/completions`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(await res.body.text()).toBe(ODD_STREAM.join(''));
    expect(up.requests[0].body).toBe(body); // the same request bytes upstream
    expect(res.headers['x-accel-buffering']).toBe('no');
    expect(res.headers['cache-control']).toBe('no-cache');
    const m = await scrape(tap.metricsUrl);
    expect(metricSum(m, 'tokentap_time_to_first_token_seconds_count', { model: 'm' })).toBe(1);
    expect(metricSum(m, 'tokentap_tokens_total', { model: 'm', type: 'completion' })).toBe(2); // estimated: 2 token events
    expect(metricSum(m, 'tokentap_usage_estimated_total', { model: 'm' })).toBe(1);
  });

  it('with inject_usage off, the request and response bytes are untouched', async () => {
    up = await startRawUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(ODD_STREAM.join(''));
    });
    tap = await start(up.url, { inject_usage: false });
    const body = '{"model":"m","stream":true,"messages":[]}';
    const res = await request(`${tap.proxyUrl}/v1/chat/completions`, { method: 'POST', body });
    expect(await res.body.text()).toBe(ODD_STREAM.join(''));
    expect(up.requests[0].body).toBe(body);
  });

  it('non-SSE bodies pass through as they are, with their content-length', async () => {
    const payload = JSON.stringify({ id: 'x', usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } });
    up = await startRawUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
      res.end(payload);
    });
    tap = await start(up.url);
    const res = await request(`${tap.proxyUrl}/v1/chat/completions`, { method: 'POST', body: '{"model":"m"}' });
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(payload)));
    expect(await res.body.text()).toBe(payload);
    await eventually(async () => metricSum(await scrape(tap!.metricsUrl), 'tokentap_tokens_total', { type: 'completion' }) === 4);
  });

  it('a body that is not JSON is forwarded untouched and metered as model="unknown"', async () => {
    up = await startRawUpstream((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"bad json"}}');
    });
    tap = await start(up.url);
    const res = await request(`${tap.proxyUrl}/v1/chat/completions`, { method: 'POST', body: 'this is {not json' });
    expect(res.statusCode).toBe(400);
    expect(await res.body.text()).toBe('{"error":{"message":"bad json"}}');
    expect(up.requests[0].body).toBe('this is {not json');
    const m = await scrape(tap.metricsUrl);
    expect(metricSum(m, 'tokentap_requests_total', { model: 'unknown', code: '400', outcome: 'upstream_error' })).toBe(1);
  });
});

describe('streaming is not buffered', () => {
  // Lockstep: upstream sends event i+1 only after the client has received event i, so a proxy that holds back
  // any chunk deadlocks and fails here, however slow the machine. (Regression: this test once measured each
  // event's lag against a 40 ms bound, the kind of bound a loaded CI runner trips.)
  it('each event reaches the client before upstream sends the next', async () => {
    let upstreamRes!: (res: ServerResponse) => void;
    const upstream = new Promise<ServerResponse>((resolve) => (upstreamRes = resolve));
    up = await startRawUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      upstreamRes(res);
    });
    tap = await start(up.url);
    const pending = request(`${tap.proxyUrl}/v1/chat/completions`, { method: 'POST', body: '{"model":"m","stream":true}' });
    const sse = await upstream;
    sse.write(ev('t0'));
    const pieces = (await withDeadline(pending, 3000, 'no response headers while upstream held back t1')).body[Symbol.asyncIterator]();
    let seen = '';
    for (let i = 0; i < 5; i++) {
      if (i > 0) sse.write(ev(`t${i}`));
      while (!seen.includes(`"t${i}"`)) {
        const next = await withDeadline(pieces.next(), 3000, `event t${i} did not reach the client while upstream held back the next`);
        expect(next.done).toBe(false);
        seen += String(next.value);
      }
    }
    sse.end('data: [DONE]\n\n');
    for (let r = await pieces.next(); !r.done; r = await pieces.next()) seen += String(r.value);
    expect(seen.match(/"content"/g)).toHaveLength(5);
    expect(seen.endsWith('data: [DONE]\n\n')).toBe(true);
  });
});

async function withDeadline<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

describe('headers', () => {
  it('forwards end-to-end headers both ways, strips hop-by-hop, adds X-Forwarded-*, sets x-request-id', async () => {
    up = await startRawUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes', 'keep-alive': 'timeout=77', connection: 'keep-alive' });
      res.end('{}');
    });
    tap = await start(up.url);
    // node:http sends a Connection header as given (undici refuses custom Connection values)
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(`${tap!.proxyUrl}/v1/models?x=1`, {
        headers: { authorization: 'Bearer sk-abc', 'x-client': 'c', connection: 'x-drop', 'x-drop': '1', 'x-request-id': 'my-id-1' },
      });
      req.on('response', resolve).on('error', reject).end();
    });
    for await (const _ of res) void _;
    const seen = up.requests[0];
    expect(seen.url).toBe('/v1/models?x=1');
    expect(seen.headers.authorization).toBe('Bearer sk-abc');
    expect(seen.headers['x-client']).toBe('c');
    expect(seen.headers['x-drop']).toBeUndefined();
    expect(seen.headers['x-request-id']).toBe('my-id-1');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe(new URL(tap.proxyUrl).host);
    expect(seen.headers.host).toBe(new URL(up.url).host);
    expect(res.headers['x-upstream']).toBe('yes');
    expect(res.headers['keep-alive']).not.toBe('timeout=77'); // the proxy's own keep-alive, not the upstream's
    expect(res.headers['x-request-id']).toBe('my-id-1');
  });

  it('generates an x-request-id when the client sends none, and sends the same one upstream', async () => {
    up = await startRawUpstream((_req, res) => res.end('ok'));
    tap = await start(up.url);
    const res = await request(`${tap.proxyUrl}/anything`, { method: 'DELETE' });
    await res.body.text();
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(up.requests[0].headers['x-request-id']).toBe(res.headers['x-request-id']);
    expect(up.requests[0].method).toBe('DELETE');
  });

  it("the upstream's own x-request-id reaches the client unchanged and is logged as upstream_request_id", async () => {
    up = await startRawUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_0123abc' });
      res.end('{"object":"list","data":[]}');
    });
    const dir = mkdtempSync(join(tmpdir(), 'tokentap-rid-'));
    tap = await start(up.url, { access_log: join(dir, 'access.log') });
    const res = await request(`${tap.proxyUrl}/v1/models`, { headers: { 'x-request-id': 'client-7' } });
    await res.body.text();
    expect(res.headers['x-request-id']).toBe('req_0123abc');
    expect(up.requests[0].headers['x-request-id']).toBe('client-7'); // tokentap's id still goes upstream
    await eventually(() => readFileSync(join(dir, 'access.log'), 'utf8').includes('req_0123abc'));
    expect(JSON.parse(readFileSync(join(dir, 'access.log'), 'utf8'))).toMatchObject({ request_id: 'client-7', upstream_request_id: 'req_0123abc' });
  });
});

describe('regressions', () => {
  it('Expect: 100-continue (curl sends it for large bodies) is answered by tokentap, not forwarded (was a 502)', async () => {
    up = await startRawUpstream((_req, res) => res.end('{"ok":true}'));
    tap = await start(up.url);
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'w '.repeat(5000) }] });
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(`${tap!.proxyUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { expect: '100-continue', 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      req.on('continue', () => req.end(body));
      req.on('response', resolve).on('error', reject);
    });
    let text = '';
    for await (const piece of res) text += piece;
    expect(res.statusCode).toBe(200);
    expect(text).toBe('{"ok":true}');
    expect(up.requests[0].body).toBe(body);
    expect(up.requests[0].headers.expect).toBeUndefined();
  });
});
