/**
 * Hostile request bodies: 60 MiB of nested brackets (finding 2), and the bytes usage injection may change
 * (finding 12: only the ones it inserts; every other byte reaches the upstream as the client sent it).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { metricSum, rssGrowthMb, startHostile, type Hostile } from './harness.js';

let h: Hostile;
let up: Server | undefined;
afterEach(async () => {
  await h?.close();
  up?.closeAllConnections();
  up?.close();
  up = undefined;
});

const MODELS = '{"object":"list","data":[{"id":"m","object":"model"}]}';

/** An upstream that keeps each request body as raw bytes (or only counts them, `keep: false`) and answers `answer`. */
async function byteUpstream(answer: (req: IncomingMessage, body: Buffer) => { status: number; type: string; body: string }, keep = true) {
  const bodies: Buffer[] = [];
  up = createServer((req, res) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (keep) parts.push(d);
    });
    req.on('end', () => {
      const body = keep ? Buffer.concat(parts) : Buffer.alloc(0);
      if (req.url !== '/v1/models') bodies.push(keep ? body : Buffer.from(String(size)));
      const a = req.url === '/v1/models' ? { status: 200, type: 'application/json', body: MODELS } : answer(req, body);
      res.writeHead(a.status, { 'content-type': a.type });
      res.end(a.body);
    });
  });
  up.listen(0, '127.0.0.1');
  await once(up, 'listening');
  return { url: `http://127.0.0.1:${(up.address() as AddressInfo).port}`, bodies };
}

describe('nested brackets (finding 2)', () => {
  it('60 MiB of [ is forwarded untouched as model="unknown" without freezing other requests or growing memory by a GB', async () => {
    const upstream = await byteUpstream(() => ({ status: 400, type: 'application/json', body: '{"error":{"message":"bad json"}}' }), false);
    h = await startHostile({}, upstream.url);
    const head = '{"model":"n","stream":true,"x":';
    const body = Buffer.alloc(head.length + 60 * 1024 * 1024, 0x5b);
    body.write(head);
    let others = 0;
    const { result: worstMs, growthMb } = await rssGrowthMb(async () => {
      let done = false;
      const big = h.request('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(async (res) => {
        await res.body.text();
        done = true;
        return res.statusCode;
      });
      let worst = 0;
      while (!done) {
        others++;
        const t = performance.now();
        const r = await h.request('/v1/models');
        await r.body.text();
        worst = Math.max(worst, performance.now() - t);
      }
      expect(await big).toBe(400);
      return worst;
    });
    expect(upstream.bodies[0].toString()).toBe(String(body.length)); // all of it reached the upstream
    expect(worstMs).toBeLessThan(1000); // before the depth limit: 10 s
    expect(growthMb).toBeLessThan(500); // the body itself is held (60 MiB, twice while joined); before: over 1 GB more
    await h.expectClean(1 + others);
    expect(h.logLines().find((l) => l.endpoint === 'chat_completions')).toMatchObject({ model: 'unknown', status: 400, outcome: 'upstream_error' });
    expect(metricSum(await h.metrics(), 'tokentap_requests_total', { model: 'unknown', endpoint: 'chat_completions' })).toBe(1);
  });
});

describe('usage injection edits bytes only (finding 12)', () => {
  const sse = 'data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n';
  const usage = 'data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\n';
  const stream = () => ({ status: 200, type: 'text/event-stream', body: `${sse}${usage}data: [DONE]\n\n` });

  it('stream_options null: only `null` becomes {"include_usage":true}; a huge seed, invalid UTF-8, duplicate keys and leading whitespace arrive as sent', async () => {
    const upstream = await byteUpstream(stream);
    h = await startHostile({}, upstream.url);
    const before = Buffer.from(' \n {"model":"m","seed":12345678901234567890,"stream":true,"messages":[{"role":"user","content":"caf');
    const after = Buffer.from('"}],"n":1,"n":2,"stream_options":null}');
    const sent = Buffer.concat([before, Buffer.from([0xff, 0xfe]), after]);
    const res = await h.request('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: sent });
    const text = await res.body.text();
    expect(text).toBe(`${sse}data: [DONE]\n\n`); // the usage chunk tokentap caused is gone
    const expected = Buffer.from(sent.toString('latin1').replace('"stream_options":null', '"stream_options":{"include_usage":true}'), 'latin1');
    expect(upstream.bodies[0].equals(expected)).toBe(true);
    await h.expectClean(1);
    expect(h.logLines()[0]).toMatchObject({ usage: 'reported', completion_tokens: 1 });
  });

  it('stream_options without include_usage ({} or continuous_usage_stats): untouched, and the usage chunk the upstream sends reaches the client', async () => {
    const upstream = await byteUpstream(stream);
    h = await startHostile({}, upstream.url);
    for (const so of ['{}', '{"continuous_usage_stats":true}', '{"include_usage":false,"continuous_usage_stats":true}']) {
      const sent = `{"model":"m","stream":true,"stream_options":${so},"messages":[]}`;
      const res = await h.request('/v1/chat/completions', { method: 'POST', body: sent });
      expect(await res.body.text()).toBe(`${sse}${usage}data: [DONE]\n\n`);
      expect(upstream.bodies.at(-1)!.toString()).toBe(sent);
    }
    await h.expectClean(3);
  });
});
