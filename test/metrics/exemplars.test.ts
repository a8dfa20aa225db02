/**
 * Exemplars and the OpenMetrics text: the exact text of a histogram with exemplars in both formats, counter
 * family names, escaping, the 128-character rule, and the whole exposition of createMetrics in OpenMetrics
 * (prom-client's metrics included) leaving the classic text unchanged.
 */
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { codePoints, exemplarLabelText, exemplarSuffix, hasExemplarLabels, MAX_REQUEST_ID_ALONE } from '../../src/metrics/exemplar.js';
import { FastCounter, FastGauge } from '../../src/metrics/fast-counter.js';
import { ExemplarHistogram, FastHistogram } from '../../src/metrics/fast-histogram.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { renderExposition } from '../../src/metrics/sliced-render.js';
import { parseExposition } from '../helpers/prom.js';

/** The performance.now() reading at this epoch time in ms (exemplar timestamps are wall-clock seconds). */
const at = (epochMs: number) => epochMs - performance.timeOrigin;
const TRACE = '0af7651916cd43dd8448eb211c80319c';

describe('ExemplarHistogram', () => {
  it('classic text: no exemplars; OpenMetrics: the latest observation of each bucket, on that bucket only', async () => {
    const reg = new client.Registry();
    const h = new ExemplarHistogram('h_seconds', 'help h', ['model'], [0.1, 1], reg);
    const c = new FastCounter('c_total', 'help c', ['code'], reg);
    const g = new FastGauge('g', 'help g', [], reg);
    const a = h.labels('a');
    a.observeWithExemplar(0.05, 'r1', null, at(1_700_000_000_000));
    a.observeWithExemplar(0.07, 'r2', TRACE, at(1_700_000_001_250)); // the latest in le=0.1: replaces r1
    a.observeWithExemplar(2, 'r3 "q" \\', null, at(1_700_000_002_500)); // +Inf; escaped
    a.observe(0.5); // counted, no exemplar: le=1 has none
    c.labels('200').inc(3);
    g.labels().inc();
    const classic = [
      '# HELP h_seconds help h',
      '# TYPE h_seconds histogram',
      'h_seconds_bucket{model="a",le="0.1"} 2',
      'h_seconds_bucket{model="a",le="1"} 3',
      'h_seconds_bucket{model="a",le="+Inf"} 4',
      'h_seconds_sum{model="a"} 2.62',
      'h_seconds_count{model="a"} 4',
      '',
      '# HELP c_total help c',
      '# TYPE c_total counter',
      'c_total{code="200"} 3',
      '',
      '# HELP g help g',
      '# TYPE g gauge',
      'g 1',
      '',
    ].join('\n');
    const openMetrics = [
      '# HELP h_seconds help h',
      '# TYPE h_seconds histogram',
      `h_seconds_bucket{model="a",le="0.1"} 2 # {request_id="r2",trace_id="${TRACE}"} 0.07 1700000001.250`,
      'h_seconds_bucket{model="a",le="1"} 3',
      'h_seconds_bucket{model="a",le="+Inf"} 4 # {request_id="r3 \\"q\\" \\\\"} 2 1700000002.500',
      'h_seconds_sum{model="a"} 2.62',
      'h_seconds_count{model="a"} 4',
      '# HELP c help c',
      '# TYPE c counter',
      'c_total{code="200"} 3',
      '# HELP g help g',
      '# TYPE g gauge',
      'g 1',
      '',
    ].join('\n');
    expect((await renderExposition([h, c, g])).join('')).toBe(classic);
    expect((await renderExposition([h, c, g], true)).join('')).toBe(openMetrics);
    expect(`${[h, c, g].map((m) => m.exposition(true)).join('\n')}\n`).toBe(openMetrics);
    expect((await renderExposition([h, c, g])).join('')).toBe(classic); // unchanged after an OpenMetrics render
  });

  it('a plain FastHistogram has no exemplars and the same lines in both formats', () => {
    const h = new FastHistogram('p_seconds', 'help', ['m'], [1], new client.Registry());
    h.labels('x').observe(0.5);
    expect('observeWithExemplar' in h.labels('x')).toBe(false);
    expect(h.exposition(true)).toBe(h.exposition());
  });

  it('the exemplar series counts exactly like a plain one (observe and observeWithExemplar)', () => {
    const reg = new client.Registry();
    const plain = new FastHistogram('a', 'a', ['m'], [0.01, 0.1, 1], reg);
    const ex = new ExemplarHistogram('b', 'b', ['m'], [0.01, 0.1, 1], reg);
    for (const v of [0, 0.01, 0.05, 0.1, 0.5, 1, 3, Number.NaN, Infinity]) {
      plain.labels('x').observe(v);
      ex.labels('x').observeWithExemplar(v, 'id', null, 0);
    }
    const norm = (text: string) => parseExposition(text).map((s) => `${s.labels.le ?? ''} ${s.name.slice(1)} ${s.value}`);
    expect(norm(ex.exposition())).toEqual(norm(plain.exposition()));
    expect(ex.exposition(true).match(/ # \{/g)).toHaveLength(4); // the four buckets observed (NaN and ∞ are not)
  });


  it('the OpenMetrics render is sliced like the classic one: pieces of whole lines, the bytes of one pass', async () => {
    const h = new ExemplarHistogram('h', 'h', ['model'], [1, 2, 3], new client.Registry());
    for (let i = 0; i < 20_000; i++) h.labels(`model-${i}`).observeWithExemplar(i % 4, `req-${i}`, i % 2 ? TRACE : null, at(1_700_000_000_000 + i));
    const pieces = await renderExposition([h], true);
    expect(pieces.length).toBeGreaterThan(5);
    for (const piece of pieces) expect(piece.endsWith('\n')).toBe(true);
    expect(pieces.join('')).toBe(`${h.exposition(true)}\n`);
    expect(pieces.join('').match(/ # \{request_id="req-\d+"/g)).toHaveLength(20_000);
  });
});

describe('the exemplar label set: at most 128 code points of names and values (OpenMetrics 1.0)', () => {
  it('a request id alone fits up to 118 characters; longer, the observation leaves the last exemplar in place', () => {
    const fits = 'a'.repeat(MAX_REQUEST_ID_ALONE);
    expect(MAX_REQUEST_ID_ALONE).toBe(118);
    expect(exemplarLabelText(fits, null)).toBe(`request_id="${fits}"`);
    expect(exemplarLabelText(`${fits}b`, null)).toBe('');
    expect(hasExemplarLabels(fits, null)).toBe(true);
    expect(hasExemplarLabels(`${fits}b`, null)).toBe(false);
    const h = new ExemplarHistogram('h', 'h', [], [1], new client.Registry());
    h.labels().observeWithExemplar(0.5, 'short', null, at(1_700_000_000_000));
    h.labels().observeWithExemplar(0.6, 'x'.repeat(200), null, at(1_700_000_001_000)); // a client id of 200
    expect(h.exposition(true)).toContain('h_bucket{le="1"} 2 # {request_id="short"} 0.5 1700000000.000\n');
  });

  it('beside a trace id (40 code points with its name) a request id fits up to 78; a longer one is left out, the trace id kept', () => {
    const fits = 'b'.repeat(78);
    expect(exemplarLabelText(fits, TRACE)).toBe(`request_id="${fits}",trace_id="${TRACE}"`);
    expect(exemplarLabelText(`${fits}c`, TRACE)).toBe(`trace_id="${TRACE}"`);
    expect(hasExemplarLabels('z'.repeat(200), TRACE)).toBe(true);
    const h = new ExemplarHistogram('h', 'h', [], [1], new client.Registry());
    h.labels().observeWithExemplar(3, 'y'.repeat(200), TRACE, at(1_700_000_000_000));
    expect(h.exposition(true)).toContain(`h_bucket{le="+Inf"} 1 # {trace_id="${TRACE}"} 3 1700000000.000\n`);
  });

  it('counts code points, not UTF-16 units or escapes', () => {
    expect(codePoints('🙂é"')).toBe(3);
    expect(codePoints('\ud83d')).toBe(1); // a lone surrogate is one
    const emoji = '🙂'.repeat(MAX_REQUEST_ID_ALONE); // 236 UTF-16 units, 118 code points
    expect(hasExemplarLabels(emoji, null)).toBe(true);
    expect(exemplarLabelText(emoji, null)).toBe(`request_id="${emoji}"`);
    const quotes = '"'.repeat(MAX_REQUEST_ID_ALONE); // escaped to twice as many characters: still fits
    expect(exemplarLabelText(quotes, null)).toBe(`request_id="${'\\"'.repeat(MAX_REQUEST_ID_ALONE)}"`);
  });

  it('the suffix: value, then the observation time in seconds since the epoch to the millisecond', () => {
    expect(exemplarSuffix('r', null, 0.25, at(1_700_000_000_123))).toBe(' # {request_id="r"} 0.25 1700000000.123');
    expect(exemplarSuffix('x'.repeat(119), null, 1, 0)).toBe('');
  });
});

describe("createMetrics' OpenMetrics exposition", () => {
  it('the whole exposition: prom-client counters as families, no blank line, # EOF last; the classic text unchanged', async () => {
    const buckets = { e2e: [1], ttft: [1], ttfc: [1], itl: [1], tpot: [1], prompt_tokens: [10], completion_tokens: [10] };
    const m = createMetrics(buckets as Parameters<typeof createMetrics>[0]);
    const b = m.series('m', 'chat_completions');
    b.ttft.observeWithExemplar(0.2, 'req-1', TRACE, at(1_700_000_000_000));
    const record = { e2eMs: 300, ttftMs: 200, ttfcMs: null, tpotMs: null, usage: null } as unknown as Parameters<typeof m.record>[0]['record'];
    m.record({ model: 'm', endpoint: 'chat_completions', stream: true, code: 200, outcome: 'ok', record }, b, { requestId: 'req-1', traceId: null, t0: at(1_700_000_000_000) });

    const before = (await m.exposition()).join('');
    const om = (await m.openMetrics()).join('');
    const after = (await m.exposition()).join('');
    // prom-client's OpenMetrics mode would have renamed its counters for good; ours leaves them alone
    expect(after.replace(/^tokentap_(?!requests|tokens|time|request_|usage|connections).*\n/gm, '')).toBe(
      before.replace(/^tokentap_(?!requests|tokens|time|request_|usage|connections).*\n/gm, ''),
    );
    expect(after).toContain('# TYPE tokentap_process_cpu_user_seconds_total counter\ntokentap_process_cpu_user_seconds_total ');

    expect(om.endsWith('\n# EOF\n')).toBe(true);
    expect(om.split('\n').filter((l) => l === '')).toEqual(['']); // only after # EOF's newline
    expect(om).toContain('# TYPE tokentap_process_cpu_user_seconds counter\ntokentap_process_cpu_user_seconds_total ');
    expect(om).toContain('# TYPE tokentap_requests counter\ntokentap_requests_total{model="m",endpoint="chat_completions",stream="true",code="200",outcome="ok"} 1\n');
    expect(om).toContain(
      `tokentap_time_to_first_token_seconds_bucket{model="m",endpoint="chat_completions",le="1"} 1 # {request_id="req-1",trace_id="${TRACE}"} 0.2 1700000000.000\n`,
    );
    expect(om).toContain(
      'tokentap_request_duration_seconds_bucket{model="m",endpoint="chat_completions",stream="true",outcome="ok",le="1"} 1 # {request_id="req-1"} 0.3 1700000000.300\n',
    );
    expect(before).not.toContain('# {');
    // every counter family in OpenMetrics names samples with _total, and no family does itself
    const counterFamilies = [...om.matchAll(/^# TYPE (\S+) counter$/gm)].map((x) => x[1]);
    expect(counterFamilies.length).toBeGreaterThan(5);
    for (const f of counterFamilies) expect(f.endsWith('_total')).toBe(false);
  });
});
