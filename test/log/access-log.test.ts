import { describe, expect, it } from 'vitest';
import { accessLogEntry, type AccessLogEntry } from '../../src/log/access-log.js';
import type { FinishedRequest } from '../../src/metrics/metrics.js';

const base: FinishedRequest = {
  model: 'Qwen/Qwen2.5-7B-Instruct',
  endpoint: 'chat_completions',
  stream: true,
  code: 200,
  outcome: 'ok',
  record: {
    ttftMs: 41.23456,
    ttfcMs: 41.23456,
    tpotMs: 10.4,
    itlMs: [10, 11],
    e2eMs: 702.9001,
    promptTokens: 25,
    completionTokens: 64,
    cachedTokens: null,
    reasoningTokens: 0,
    usage: 'reported',
  },
};

/** The entry, field for field and in this order (the line is its JSON). */
function expected(requestId: string, method: string, r: FinishedRequest, ts: string): AccessLogEntry {
  const ms = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 1000);
  const rec = r.record;
  return {
    ts,
    request_id: requestId,
    method,
    model: r.model,
    endpoint: r.endpoint,
    stream: r.stream,
    status: r.code,
    outcome: r.outcome,
    ttft_ms: ms(rec.ttftMs),
    ttfc_ms: ms(rec.ttfcMs),
    tpot_ms: ms(rec.tpotMs),
    e2e_ms: ms(rec.e2eMs) as number,
    prompt_tokens: rec.promptTokens,
    completion_tokens: rec.completionTokens,
    cached_tokens: rec.cachedTokens,
    reasoning_tokens: rec.reasoningTokens,
    usage: rec.usage,
  };
}

describe('accessLogEntry', () => {
  it('has every field in order, times rounded to µs, for awkward strings and nulls too', () => {
    const ts = '2026-11-23T12:00:00.000Z';
    const cases: [string, string, FinishedRequest][] = [
      ['8540cf7a-10b3-444f-a777-bcb3cb7fcc82', 'POST', base],
      ['client "id" \\ with quotes', 'GET', { ...base, model: 'modèle "x"\n\u0001', stream: false, code: 502, outcome: 'unreachable' }],
      ['r', 'POST', { ...base, record: { ...base.record, ttftMs: null, ttfcMs: null, tpotMs: null, e2eMs: 0.0004, promptTokens: null, completionTokens: null, reasoningTokens: null, usage: null } }],
      ['r', 'POST', { ...base, record: { ...base.record, usage: 'estimated', e2eMs: 1e-7 } }],
    ];
    for (const [id, method, r] of cases) {
      const entry = accessLogEntry(id, method, r, ts);
      expect(JSON.stringify(entry)).toBe(JSON.stringify(expected(id, method, r, ts)));
    }
  });

  it('stamps the current time', () => {
    const before = Date.now();
    const ts = Date.parse(accessLogEntry('r', 'POST', base).ts);
    expect(ts).toBeGreaterThanOrEqual(before - 1);
    expect(ts).toBeLessThanOrEqual(Date.now());
  });
});
