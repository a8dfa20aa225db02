/**
 * Finding 6 (the label table part): a flood of model names the upstream rejects never fills the `max_models`
 * table, so the real model keeps its own label and the exposition stays small. (Scrape sharing and yielding,
 * and the cached upstream probe: test/metrics and test/e2e/metrics-port.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream.js';
import { metricSum, startHostile, type Hostile } from './harness.js';

let h: Hostile;
let up: RawUpstream;
afterEach(async () => {
  await h?.close();
  await up?.close();
});

describe('a flood of bogus model names (finding 6)', () => {
  it('names the upstream rejects take no label slot; the real model, first seen after them, gets its own', async () => {
    up = await startRawUpstream((req, res, body) => {
      if (req.url === '/v1/models') return void res.end('{"object":"list","data":[{"id":"real"}]}');
      const model = (JSON.parse(body) as { model: string }).model;
      if (model !== 'real') {
        res.writeHead(404, { 'content-type': 'application/json' });
        return void res.end(`{"error":{"message":"The model does not exist.","code":404}}`);
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"object":"chat.completion","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}');
    });
    h = await startHostile({ max_models: 10 }, up.url);
    const flood = 300;
    for (let i = 0; i < flood; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, j) => {
          const res = await h.request('/v1/chat/completions', { method: 'POST', body: JSON.stringify({ model: `bogus-${i + j}`, messages: [] }) });
          expect(res.statusCode).toBe(404);
          await res.body.text();
        }),
      );
    }
    const res = await h.request('/v1/chat/completions', { method: 'POST', body: JSON.stringify({ model: 'real', messages: [] }) });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    await h.expectClean(flood + 1);
    const m = await h.metrics();
    expect(metricSum(m, 'tokentap_requests_total', { model: 'other', code: '404' })).toBe(flood);
    expect(metricSum(m, 'tokentap_requests_total', { model: 'real', code: '200' })).toBe(1);
    expect(metricSum(m, 'tokentap_tokens_total', { model: 'real', type: 'completion' })).toBe(1);
    expect(m).not.toContain('bogus-');
    expect(h.logLines().filter((l) => l.model === 'other')).toHaveLength(flood);
  });

  it('a new model’s requests in flight move from other to its own label when the upstream answers 2xx', async () => {
    h = await startHostile();
    const res = await h.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'x-sim-ttft-ms': '300' },
      body: JSON.stringify({ model: 'fresh', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const inFlight = metricSum(await h.metrics(), 'tokentap_requests_in_flight', { model: 'fresh' });
    expect(inFlight).toBe(1);
    await res.body.text();
    await h.expectClean(1);
    const m = await h.metrics();
    expect(metricSum(m, 'tokentap_requests_in_flight', { model: 'other' })).toBe(0);
    expect(metricSum(m, 'tokentap_requests_total', { model: 'fresh', outcome: 'ok' })).toBe(1);
  });

  it('model names with lone surrogates are labelled other: never two series with one label set', async () => {
    // `"\ud800"` and `"\udfff"` decode to different strings, but the exposition writes both as U+FFFD: as labels
    // of their own they made two series with the same label set, and Prometheus rejects such a scrape whole.
    h = await startHostile();
    for (const escaped of ['\\ud800', '\\udfff', 'x\\ud800y']) {
      const res = await h.request('/v1/chat/completions', { method: 'POST', body: `{"model":"${escaped}","messages":[{"role":"user","content":"hi"}]}` });
      expect(res.statusCode).toBe(200);
      await res.body.text();
    }
    await h.expectClean(3);
    const m = await h.metrics();
    expect(metricSum(m, 'tokentap_requests_total', { model: 'other', outcome: 'ok' })).toBe(3);
    const seriesLines = m.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.slice(0, l.lastIndexOf(' ')));
    expect(new Set(seriesLines).size).toBe(seriesLines.length);
  });
});
