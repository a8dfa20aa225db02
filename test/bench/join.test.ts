import { describe, expect, it } from 'vitest';
import { joinByRequestId, parseAccessLog } from '../../src/bench/join.js';
import type { RequestRecord } from '../../src/bench/types.js';

const rec = (id: string, ttftMs: number | null, e2eMs: number | null): RequestRecord => ({
  index: 0,
  requestId: id,
  responseRequestId: id,
  startMs: 0,
  status: 200,
  ok: true,
  error: null,
  errorMessage: null,
  stream: true,
  ttftMs,
  ttfcMs: ttftMs,
  tpotMs: null,
  e2eMs,
  itlMs: [],
  promptTokens: 10,
  completionTokens: 5,
  usage: 'reported',
  tokenEvents: 5,
  sseEvents: 7,
  requestedPromptTokens: 10,
  requestedMaxTokens: 5,
});

const LOG = [
  '{"ts":"2025-01-01T00:00:00.000Z","request_id":"bench-r-0","status":200,"outcome":"ok","ttft_ms":80,"ttfc_ms":80,"tpot_ms":10,"e2e_ms":120,"prompt_tokens":10,"completion_tokens":5}',
  'not json at all',
  '{"ts":"2025-01-01T00:00:00.000Z","request_id":"other-client","status":200,"outcome":"ok","ttft_ms":1,"ttfc_ms":1,"tpot_ms":null,"e2e_ms":2,"prompt_tokens":null,"completion_tokens":null}',
  '{"ts":"2025-01-01T00:00:00.000Z","request_id":"bench-r-1","status":200,"outcome":"ok","ttft_ms":90.5,"ttfc_ms":90.5,"tpot_ms":10,"e2e_ms":130,"prompt_tokens":10,"completion_tokens":5}',
  '{"ts":"2025-01-01T00:00:00.000Z","request_id":"bench-r-2","status":500,"outcome":"upstream_error","ttft_ms":null,"ttfc_ms":null,"tpot_ms":null,"e2e_ms":3,"prompt_tokens":null,"completion_tokens":null}',
  '{"no_request_id":true}',
  '',
].join('\n');

describe('parseAccessLog', () => {
  it('keeps JSON lines with a request_id', () => {
    expect(parseAccessLog(LOG).map((e) => e.request_id)).toEqual(['bench-r-0', 'other-client', 'bench-r-1', 'bench-r-2']);
  });
});

describe('joinByRequestId', () => {
  it('pairs client and proxy records by x-request-id and reports client − proxy', () => {
    const records = [rec('bench-r-0', 81, 121.5), rec('bench-r-1', 92.5, 131), rec('bench-r-2', null, 4), rec('bench-r-3', 85, 125)];
    const j = joinByRequestId(records, parseAccessLog(LOG));
    expect(j.matched).toBe(3);
    expect(j.unmatchedClient).toBe(1);
    expect(j.pairs).toEqual([
      { requestId: 'bench-r-0', ttftDiffMs: 1, e2eDiffMs: 1.5 },
      { requestId: 'bench-r-1', ttftDiffMs: 2, e2eDiffMs: 1 },
      { requestId: 'bench-r-2', ttftDiffMs: null, e2eDiffMs: 1 },
    ]);
    expect(j.ttftDiffMs.count).toBe(2);
    expect(j.ttftDiffMs.p50).toBe(1.5);
    expect(j.ttftDiffMs.max).toBe(2);
    expect(j.e2eDiffMs.count).toBe(3);
    expect(j.e2eDiffMs.p50).toBe(1);
    expect(j.e2eDiffMs.mean).toBeCloseTo(3.5 / 3, 12);
  });

  it('takes the last line when an id repeats', () => {
    const log = parseAccessLog(LOG + '\n{"request_id":"bench-r-0","ttft_ms":70,"e2e_ms":100}');
    const j = joinByRequestId([rec('bench-r-0', 81, 121.5)], log);
    expect(j.pairs[0]).toEqual({ requestId: 'bench-r-0', ttftDiffMs: 11, e2eDiffMs: 21.5 });
  });
});
