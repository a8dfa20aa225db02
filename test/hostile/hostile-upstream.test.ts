/**
 * A hostile upstream: an SSE line that never ends (finding 5), 1xx answers before the response (finding 8),
 * usage numbers that cannot be true (finding 13).
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream.js';
import { metricSum, rssGrowthMb, startHostile, type Hostile } from './harness.js';

let h: Hostile;
let up: RawUpstream | undefined;
let net: Server | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await h?.close();
  await up?.close();
  net?.close();
  up = net = undefined;
});

const chat = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }], ...extra });
const MODELS = '{"object":"list","data":[{"id":"m","object":"model"}]}';
const tokenEvent = (text: string) => `data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"${text}"}}]}\n\n`;
const usageEvent = (u: Record<string, unknown>) => `data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[],"usage":${JSON.stringify(u)}}\n\n`;

describe('an SSE event that never ends (finding 5)', () => {
  const cases = [
    ['one endless line', 'injected'],
    ['endless data: lines with no blank line', 'injected'],
    ['one endless line', 'asked by the client'],
    ['endless data: lines with no blank line', 'asked by the client'],
  ] as const;
  for (const [shape, usage] of cases) {
    it(`${shape}, usage ${usage}: forwarded as it arrives, memory bounded, other requests served, the next events metered`, async () => {
      // Strip mode (injected) must not hold the event: the lockstep below deadlocks if it does. Without strip
      // mode a meter that keeps the event grows by its size as text (2 bytes a character: ~190 MB).
      const total = 96 * 1024 * 1024;
      const piece = Buffer.alloc(64 * 1024, 0x78);
      if (shape !== 'one endless line') for (let i = 0; i < piece.length; i += 64) piece.write('\ndata: ', i + 57);
      let received = 0;
      let others = 0;
      up = await startRawUpstream(async (req, res) => {
        if (req.url === '/v1/models') return void res.end(MODELS);
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(tokenEvent('a'));
        res.write('data: ');
        for (let sent = 0; sent < total; sent += piece.length) {
          if (!res.write(piece)) await once(res, 'drain');
          // lockstep: go on only when the client has most of what was sent (a proxy holding the event deadlocks here)
          while (received < sent - 4 * 1024 * 1024) await new Promise((r) => setTimeout(r, 1));
        }
        res.write('\n\n');
        res.write(tokenEvent('b'));
        res.write(usageEvent({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }));
        res.end('data: [DONE]\n\n');
      });
      h = await startHostile({}, up.url);
      const { result: worstMs, growthMb } = await rssGrowthMb(async () => {
        const body = usage === 'injected' ? chat() : chat({ stream_options: { include_usage: true } });
        const res = await h.request('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        let tail = '';
        const stream = (async () => {
          for await (const chunk of res.body) {
            received += chunk.length;
            tail = (tail + chunk.toString('latin1')).slice(-2048);
          }
        })();
        // other requests while the endless event passes
        let worst = 0;
        others = 0;
        while (received < total / 2) {
          others++;
          const t = performance.now();
          const r = await h.request('/v1/models');
          await r.body.text();
          worst = Math.max(worst, performance.now() - t);
        }
        await stream;
        expect(tail).toContain('"content":"b"');
        expect(tail).toContain('data: [DONE]');
        // the usage chunk: stripped when tokentap caused it, kept when the client asked for it
        if (usage === 'injected') expect(tail).not.toContain('"choices":[]');
        else expect(tail).toContain('"choices":[]');
        return worst;
      });
      expect(received).toBeGreaterThan(total);
      expect(growthMb).toBeLessThan(128); // 96 MiB passed through (buffers in flight and garbage: ~40–70 MB)
      expect(worstMs).toBeLessThan(1000); // a /v1/models request while the endless event passes
      const m = await h.metrics();
      expect(metricSum(m, 'tokentap_tokens_total', { type: 'completion' })).toBe(2); // usage after the endless event was read
      await h.expectClean(1 + others);
    });
  }
});

describe('1xx before the response (finding 8)', () => {
  it('103 Early Hints then 200: the client gets the 200 and its body; recorded 200 ok', async () => {
    net = createServer((s) => {
      let buf = '';
      s.on('data', (d) => {
        buf += d.toString('latin1');
        if (!buf.includes('\r\n\r\n')) return;
        const path = buf.split(' ')[1];
        buf = '';
        const body = path === '/v1/models' ? MODELS : '{"id":"x","object":"chat.completion","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}';
        s.write('HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n');
        s.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      });
    });
    net.listen(0, '127.0.0.1');
    await once(net, 'listening');
    h = await startHostile({}, `http://127.0.0.1:${(net.address() as AddressInfo).port}`);
    const res = await h.request('/v1/chat/completions', { method: 'POST', body: chat({ stream: false }) });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toContain('"completion_tokens":4');
    await h.expectClean(1);
    expect(h.logLines()[0]).toMatchObject({ status: 200, outcome: 'ok', completion_tokens: 4, usage: 'reported' });
  });
});

describe('usage numbers that cannot be true (finding 13)', () => {
  it('1e308, 0.5 and -1 are treated as no usage reported (estimated), logged once per upstream', async () => {
    const bad = [{ prompt_tokens: 1e308, completion_tokens: 2 }, { prompt_tokens: 3, completion_tokens: 0.5 }, { prompt_tokens: -1, completion_tokens: 2 }];
    let n = 0;
    up = await startRawUpstream((req, res) => {
      if (req.url === '/v1/models') return void res.end(MODELS);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(tokenEvent('a') + tokenEvent('b') + usageEvent(bad[n++ % bad.length]) + 'data: [DONE]\n\n');
    });
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    h = await startHostile({}, up.url);
    for (let i = 0; i < 3; i++) {
      const res = await h.request('/v1/chat/completions', { method: 'POST', body: chat() });
      await res.body.text();
    }
    await h.expectClean(3);
    const m = await h.metrics();
    expect(metricSum(m, 'tokentap_tokens_total', { type: 'prompt' })).toBe(0);
    expect(metricSum(m, 'tokentap_tokens_total', { type: 'completion' })).toBe(6); // 2 token events each, estimated
    expect(metricSum(m, 'tokentap_usage_estimated_total')).toBe(3);
    expect(h.logLines().slice(0, 3).map((l) => l.usage)).toEqual(['estimated', 'estimated', 'estimated']);
    expect(errors.mock.calls.filter(([msg]) => String(msg).includes('usage'))).toHaveLength(1);
  });
});
