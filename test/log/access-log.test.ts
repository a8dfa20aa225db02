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
    liveCompletionTokens: 4,
    e2eMs: 702.9001,
    promptTokens: 25,
    completionTokens: 64,
    cachedTokens: null,
    reasoningTokens: 0,
    usage: 'reported',
  },
};
const ts = '2026-11-23T12:00:00.000Z';
const nulls = { ttftMs: null, ttfcMs: null, tpotMs: null, promptTokens: null, completionTokens: null, reasoningTokens: null, usage: null };

describe('accessLogEntry', () => {
  it('has every field in order, times rounded to µs, for awkward strings and nulls too', () => {
    const cases: [string, string, FinishedRequest, AccessLogEntry][] = [
      [
        '8540cf7a-10b3-444f-a777-bcb3cb7fcc82',
        'POST',
        { ...base, upstreamRequestId: 'req_abc' },
        {
          ts, request_id: '8540cf7a-10b3-444f-a777-bcb3cb7fcc82', upstream_request_id: 'req_abc', method: 'POST', model: 'Qwen/Qwen2.5-7B-Instruct',
          endpoint: 'chat_completions', stream: true, status: 200, outcome: 'ok', ttft_ms: 41.235, ttfc_ms: 41.235,
          tpot_ms: 10.4, e2e_ms: 702.9, prompt_tokens: 25, completion_tokens: 64, cached_tokens: null,
          reasoning_tokens: 0, usage: 'reported', user: null, key_id: null, cost: null, trace_id: null,
        },
      ],
      [
        'client "id" \\ with quotes',
        'GET',
        { ...base, model: 'modèle "x"\n\u0001', stream: false, code: 502, outcome: 'unreachable' },
        {
          ts, request_id: 'client "id" \\ with quotes', upstream_request_id: null, method: 'GET', model: 'modèle "x"\n\u0001',
          endpoint: 'chat_completions', stream: false, status: 502, outcome: 'unreachable', ttft_ms: 41.235,
          ttfc_ms: 41.235, tpot_ms: 10.4, e2e_ms: 702.9, prompt_tokens: 25, completion_tokens: 64, cached_tokens: null,
          reasoning_tokens: 0, usage: 'reported', user: null, key_id: null, cost: null, trace_id: null,
        },
      ],
      [
        'r',
        'POST',
        { ...base, record: { ...base.record, ...nulls, e2eMs: 0.0004 } },
        {
          ts, request_id: 'r', upstream_request_id: null, method: 'POST', model: 'Qwen/Qwen2.5-7B-Instruct', endpoint: 'chat_completions',
          stream: true, status: 200, outcome: 'ok', ttft_ms: null, ttfc_ms: null, tpot_ms: null, e2e_ms: 0,
          prompt_tokens: null, completion_tokens: null, cached_tokens: null, reasoning_tokens: null, usage: null, user: null, key_id: null, cost: null, trace_id: null,
        },
      ],
      [
        'r',
        'POST',
        { ...base, record: { ...base.record, usage: 'estimated', e2eMs: 1e-7 } },
        {
          ts, request_id: 'r', upstream_request_id: null, method: 'POST', model: 'Qwen/Qwen2.5-7B-Instruct', endpoint: 'chat_completions',
          stream: true, status: 200, outcome: 'ok', ttft_ms: 41.235, ttfc_ms: 41.235, tpot_ms: 10.4, e2e_ms: 0,
          prompt_tokens: 25, completion_tokens: 64, cached_tokens: null, reasoning_tokens: 0, usage: 'estimated', user: null, key_id: null, cost: null, trace_id: null,
        },
      ],
      [
        'r',
        'POST',
        { ...base, user: 'alice@example.com', userLabel: 'other', keyId: '0123456789abcdef', cost: 0.1 + 0.2, traceId: '4bf92f3577b34da6a3ce929d0e0e4736' },
        {
          ts, request_id: 'r', upstream_request_id: null, method: 'POST', model: 'Qwen/Qwen2.5-7B-Instruct', endpoint: 'chat_completions',
          stream: true, status: 200, outcome: 'ok', ttft_ms: 41.235, ttfc_ms: 41.235, tpot_ms: 10.4, e2e_ms: 702.9,
          prompt_tokens: 25, completion_tokens: 64, cached_tokens: null, reasoning_tokens: 0, usage: 'reported',
          user: 'alice@example.com', key_id: '0123456789abcdef', cost: 0.3, trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
        },
      ],
      [
        'r',
        'POST',
        { ...base, cost: 1.23456789012e-4, user: null, keyId: null, traceId: null },
        {
          ts, request_id: 'r', upstream_request_id: null, method: 'POST', model: 'Qwen/Qwen2.5-7B-Instruct', endpoint: 'chat_completions',
          stream: true, status: 200, outcome: 'ok', ttft_ms: 41.235, ttfc_ms: 41.235, tpot_ms: 10.4, e2e_ms: 702.9,
          prompt_tokens: 25, completion_tokens: 64, cached_tokens: null, reasoning_tokens: 0, usage: 'reported',
          user: null, key_id: null, cost: 0.000123457, trace_id: null,
        },
      ],
    ];
    for (const [id, method, r, want] of cases) {
      expect(JSON.stringify(accessLogEntry(id, method, r, ts))).toBe(JSON.stringify(want)); // order too
    }
  });

  it('stamps the current time', () => {
    const before = Date.now();
    const stamped = Date.parse(accessLogEntry('r', 'POST', base).ts);
    expect(stamped).toBeGreaterThanOrEqual(before - 1);
    expect(stamped).toBeLessThanOrEqual(Date.now());
  });
});
