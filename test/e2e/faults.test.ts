/**
 * The fault matrix against scripted upstreams on real sockets: for each row the client's answer, exactly one
 * tokentap_requests_total increment with the stated outcome, in-flight back to 0, one access-log line, and no
 * upstream socket left open.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
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
let logFile = '';
afterEach(async () => {
  await tap?.close();
  await up?.close();
  tap = up = undefined;
});

async function start(upstream: string, extra: Record<string, unknown> = {}) {
  logFile = join(mkdtempSync(join(tmpdir(), 'tokentap-faults-')), 'access.log');
  tap = await startTap(upstream, { access_log: logFile, ...extra });
  return tap;
}

const logLines = () => readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const openUpstreamSockets = () => new Promise<number>((resolve) => up!.server.getConnections((_e, n) => resolve(n)));

/** Exactly one request recorded, with this outcome and code; nothing in flight; one log line. */
async function expectRecorded(outcome: string, code: number) {
  await eventually(() => logLines().length >= 1);
  const m = await scrape(tap!.metricsUrl);
  expect(metricSum(m, 'tokentap_requests_total')).toBe(1);
  expect(metricSum(m, 'tokentap_requests_total', { outcome, code: String(code) })).toBe(1);
  expect(metricSum(m, 'tokentap_requests_in_flight')).toBe(0);
  expect(logLines()).toHaveLength(1);
  expect(logLines()[0]).toMatchObject({ outcome, status: code });
  return { m, line: logLines()[0] };
}

const chunk = (content: string) =>
  `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"${content}"},"logprobs":null,"finish_reason":null}]}\n\n`;
const streamBody = '{"model":"m","stream":true,"messages":[{"role":"user","content":"secret prompt text"}]}';
const post = (body = streamBody) =>
  request(`${tap!.proxyUrl}/v1/chat/completions`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });

function startStream(res: ServerResponse, n: number) {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (let i = 0; i < n; i++) res.write(chunk(`t${i}`));
}

describe('fault matrix', () => {
  it('upstream refuses connections → 502 OpenAI-style error, outcome unreachable', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    await start(`http://127.0.0.1:${port}`);
    const res = await post();
    expect(res.statusCode).toBe(502);
    const body = (await res.body.json()) as { error: { message: string; type: string; code: string } };
    expect(body.error.code).toBe('upstream_unreachable');
    expect(body.error.message).toMatch(/ECONNREFUSED/);
    await expectRecorded('unreachable', 502);
    expect((await fetch(`${tap!.metricsUrl}/readyz`)).status).toBe(503);
  });

  it('upstream accepts but never sends headers → 504 after upstream_headers_timeout, outcome timeout', async () => {
    up = await startRawUpstream(() => {});
    await start(up.url, { upstream_headers_timeout: '300ms' });
    const t = performance.now();
    const res = await post();
    expect(res.statusCode).toBe(504);
    expect(performance.now() - t).toBeGreaterThanOrEqual(290);
    expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe('upstream_timeout');
    await expectRecorded('timeout', 504);
    await eventually(async () => (await openUpstreamSockets()) === 0);
  });

  for (const status of [400, 429, 500, 503]) {
    it(`upstream answers ${status} → passed through unchanged, outcome upstream_error`, async () => {
      const payload = `{"error":{"message":"status ${status}","type":"x","param":null,"code":${status}}}`;
      up = await startRawUpstream((_req, res) => {
        res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '1' });
        res.end(payload);
      });
      await start(up.url);
      const res = await post();
      expect(res.statusCode).toBe(status);
      expect(res.headers['retry-after']).toBe('1');
      expect(await res.body.text()).toBe(payload);
      await expectRecorded('upstream_error', status);
    });
  }

  it('200 then an in-band error event → the event and the end reach the client, outcome upstream_error', async () => {
    const errorEvent = 'data: {"error":{"message":"engine died","type":"InternalServerError","code":500}}\n\n';
    up = await startRawUpstream((_req, res) => {
      startStream(res, 2);
      res.end(errorEvent + 'data: [DONE]\n\n');
    });
    await start(up.url);
    const res = await post();
    const text = await res.body.text();
    expect(text.endsWith(errorEvent + 'data: [DONE]\n\n')).toBe(true);
    const { line } = await expectRecorded('upstream_error', 200);
    expect(line.completion_tokens).toBe(2);
  });

  it('upstream dies mid-stream → the client sees the stream cut (no [DONE]), outcome stream_error', async () => {
    up = await startRawUpstream((_req, res) => {
      startStream(res, 3);
      setTimeout(() => res.socket?.destroy(), 50);
    });
    await start(up.url);
    const res = await post();
    let received = '';
    await expect(
      (async () => {
        for await (const piece of res.body) received += piece.toString();
      })(),
    ).rejects.toThrow();
    expect(received).toContain('t2');
    expect(received).not.toContain('[DONE]');
    const { line } = await expectRecorded('stream_error', 200);
    expect(line).toMatchObject({ completion_tokens: 3, usage: 'estimated' });
  });

  it('upstream stalls mid-stream past upstream_idle_timeout → an SSE error event then the end, outcome timeout', async () => {
    up = await startRawUpstream((_req, res) => startStream(res, 2));
    await start(up.url, { upstream_idle_timeout: '300ms' });
    const res = await post();
    const text = await res.body.text();
    expect(text).toMatch(/data: \{"error":\{"message":"the upstream server sent nothing for 300 ms[^\n]*"code":"upstream_idle_timeout"\}\}\n\n$/);
    await expectRecorded('timeout', 200);
    await eventually(async () => (await openUpstreamSockets()) === 0);
  });

  // Regression (CI, loaded runner): this test once required the upstream close within 100 ms of the abort and
  // failed at 219 ms. The upstream now writes nothing for 10 s after its 4 tokens, so only a proxy that aborts
  // upstream when the client goes (not one that notices at its next write) closes it within `eventually`'s 3 s.
  it('client disconnects mid-stream → upstream request aborted at once, outcome client_aborted, tokens so far', async () => {
    let upstreamClosed = false;
    up = await startRawUpstream((req, res) => {
      startStream(res, 4);
      const timer = setInterval(() => res.write(chunk('more')), 10_000);
      res.on('close', () => {
        upstreamClosed = true;
        clearInterval(timer);
      });
    });
    await start(up.url);
    const ac = new AbortController();
    const res = await request(`${tap!.proxyUrl}/v1/chat/completions`, { method: 'POST', body: streamBody, signal: ac.signal });
    let seen = '';
    for await (const piece of res.body) {
      seen += piece.toString();
      if ((seen.match(/"content"/g) ?? []).length >= 4) break;
    }
    ac.abort();
    await eventually(() => upstreamClosed);
    const { line } = await expectRecorded('client_aborted', 200);
    expect(line).toMatchObject({ completion_tokens: 4, usage: 'estimated' });
    await eventually(async () => (await openUpstreamSockets()) === 0);
  });

  it('client disconnects before headers → upstream aborted, outcome client_aborted with code 499', async () => {
    let upstreamClosed = false;
    up = await startRawUpstream((_req, res) => res.on('close', () => (upstreamClosed = true)));
    await start(up.url);
    const ac = new AbortController();
    const pending = request(`${tap!.proxyUrl}/v1/chat/completions`, { method: 'POST', body: streamBody, signal: ac.signal });
    await eventually(() => up!.requests.length === 1);
    ac.abort();
    await expect(pending).rejects.toThrow();
    await eventually(() => upstreamClosed);
    await expectRecorded('client_aborted', 499);
  });

  it('body over body_limit → 413 OpenAI-style error, outcome rejected, nothing forwarded', async () => {
    up = await startRawUpstream((_req, res) => res.end('{}'));
    await start(up.url, { body_limit: 1024 });
    const res = await post(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(2000) }] }));
    expect(res.statusCode).toBe(413);
    expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe('request_too_large');
    await expectRecorded('rejected', 413);
    expect(up.requests).toHaveLength(0);
  });

  it('never writes prompt or completion text to the access log', async () => {
    up = await startRawUpstream((_req, res) => {
      startStream(res, 1);
      res.end('data: [DONE]\n\n');
    });
    await start(up.url);
    await (await post()).body.text();
    await expectRecorded('ok', 200);
    const raw = readFileSync(logFile, 'utf8');
    expect(raw).not.toContain('secret prompt text');
    expect(raw).not.toContain('t0');
  });
});
