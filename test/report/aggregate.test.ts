/** The pure parts of `tokentap usage`: line → entry, the window, the aggregator's exact sums and bounded sketches. */
import { describe, expect, it } from 'vitest';
import { UsageAggregator, TooManyGroupsError } from '../../src/report/aggregate.js';
import { EXACT_MAX, LatencyDigest } from '../../src/report/latency.js';
import { MAX_KEY_CHARS, parseEntry, type UsageEntry } from '../../src/report/entry.js';
import { LineSplitter, MAX_LINE_CHARS } from '../../src/report/line-source.js';
import { parseSort, sortRows } from '../../src/report/sort.js';
import { inRange, parseInstant, parseSince, parseTimeRange } from '../../src/report/time-range.js';
import { exactQuantile, withinAccuracy } from './expected.js';
import { prng } from '../../bench/usage-log.ts';

const base = { ts: '2026-11-30T14:05:09.123Z', outcome: 'ok', e2e_ms: 12.5 };
const entry = (o: Record<string, unknown>) => parseEntry(JSON.stringify({ ...base, ...o })) as UsageEntry;

describe('parseEntry', () => {
  it('reads the fields; absent new fields (an old log) and ill-typed ones are null', () => {
    const e = entry({ model: 'm', endpoint: 'chat_completions', prompt_tokens: 10, completion_tokens: 3, ttft_ms: 4.5 });
    expect(e).toEqual({
      tsMs: Date.UTC(2026, 10, 30, 14, 5, 9, 123),
      model: 'm',
      endpoint: 'chat_completions',
      user: null,
      keyId: null,
      error: false,
      e2eMs: 12.5,
      ttftMs: 4.5,
      promptTokens: 10,
      completionTokens: 3,
      cachedTokens: null,
      reasoningTokens: null,
      cost: null,
    });
    const bad = entry({ user: 7, prompt_tokens: -1, completion_tokens: '3', cost: -0.5, cached_tokens: 1e300, outcome: 'timeout' });
    expect([bad.user, bad.promptTokens, bad.completionTokens, bad.cost, bad.cachedTokens, bad.error]).toEqual([null, null, null, null, null, true]);
    expect(entry({ user: 'u'.repeat(10_000) }).user).toHaveLength(MAX_KEY_CHARS);
  });

  it('not JSON vs JSON that is not an entry', () => {
    expect(parseEntry('hello')).toBe('not_json');
    expect(parseEntry('{"ts":')).toBe('not_json');
    for (const o of [[1], 'str', null, { ...base, ts: 5 }, { ...base, outcome: undefined }, { ...base, e2e_ms: '1' }, { ...base, e2e_ms: -1 }, { ...base, ts: 'soon' }]) {
      expect(parseEntry(JSON.stringify(o))).toBe('not_tokentap');
    }
  });

  it('ts: the fast path for toISOString() agrees with Date.parse, other ISO forms too', () => {
    const rand = prng(3);
    for (let i = 0; i < 2000; i++) {
      const ms = Date.UTC(2020, 0, 1) + Math.floor(rand() * 3e11);
      for (const ts of [new Date(ms).toISOString(), new Date(ms - (ms % 1000) + 999).toISOString()]) expect(entry({ ts }).tsMs).toBe(Date.parse(ts));
    }
    expect(entry({ ts: '2026-11-30T15:05:09.123+01:00' }).tsMs).toBe(Date.UTC(2026, 10, 30, 14, 5, 9, 123));
    expect(parseEntry(JSON.stringify({ ...base, ts: '2026-11-30T14:05:09.1a3Z' }))).toBe('not_tokentap');
    expect(parseEntry(JSON.stringify({ ...base, ts: '2026-11-30T14:65:09.123Z' }))).toBe('not_tokentap');
  });
});

describe('the window', () => {
  it('parses durations and instants; UTC unless an offset is given', () => {
    expect(parseSince('24h')).toBe(86_400_000);
    expect(parseSince('7d')).toBe(7 * 86_400_000);
    expect(parseSince('1.5h')).toBe(5_400_000);
    expect(parseInstant('--from', '2026-11-30')).toBe(Date.UTC(2026, 10, 30));
    expect(parseInstant('--from', '2026-11-30T14:00')).toBe(Date.UTC(2026, 10, 30, 14));
    expect(parseInstant('--from', '2026-11-30 14:00:05.5')).toBe(Date.UTC(2026, 10, 30, 14, 0, 5, 500));
    expect(parseInstant('--from', '2026-11-30T14:00-0230')).toBe(Date.UTC(2026, 10, 30, 16, 30));
    const r = parseTimeRange({ since: '1h' }, 10_000_000);
    expect(r).toEqual({ fromMs: 10_000_000 - 3_600_000, toMs: null });
    expect([inRange(r, r.fromMs!), inRange(r, r.fromMs! - 1)]).toEqual([true, false]);
    const t = parseTimeRange({ to: '2026-11-30' }, 0);
    expect([inRange(t, t.toMs! - 1), inRange(t, t.toMs!)]).toEqual([true, false]);
  });
});

describe('UsageAggregator', () => {
  it('sums are exact: cost in nanos (0.1 + 0.2 is 0.3), past a whole unit too', () => {
    const agg = new UsageAggregator([]);
    for (let i = 0; i < 10; i++) agg.add(entry({ cost: 0.1, prompt_tokens: 1 }));
    agg.add(entry({ cost: 0.2 }));
    agg.add(entry({ cost: 0.000000001 }));
    agg.add(entry({ prompt_tokens: 5 })); // tokens, no cost: unpriced
    agg.add(entry({})); // no tokens, no cost: neither
    const { total } = agg.result();
    expect(total.cost).toBe('1.200000001');
    expect(total.unpriced).toBe(1);
    expect(total.requests).toBe(14);
    expect(total.prompt_tokens).toBe(15);
    expect(new UsageAggregator([]).result().total.cost).toBeNull();
  });

  it('percentiles within 1% of the exact value over 200,000 latencies spanning 0.05 ms .. 10 min', () => {
    const rand = prng(9);
    const agg = new UsageAggregator(['model']);
    const values: Record<string, number[]> = { a: [], b: [] };
    for (let i = 0; i < 200_000; i++) {
      const model = rand() < 0.3 ? 'a' : 'b';
      const v = Math.round(Math.exp(Math.log(0.05) + rand() * Math.log(600_000 / 0.05)) * 1000) / 1000;
      values[model].push(v);
      agg.add(entry({ model, e2e_ms: v, ttft_ms: v / 3 }));
    }
    const { rows, total } = agg.result();
    for (const r of rows) {
      const vs = values[r.group.model!];
      expect(withinAccuracy(r.e2e_p95_ms, exactQuantile(vs, 0.95))).toBe(true);
      expect(withinAccuracy(r.ttft_p50_ms, exactQuantile(vs.map((v) => v / 3), 0.5))).toBe(true);
    }
    expect(withinAccuracy(total.e2e_p95_ms, exactQuantile([...values.a, ...values.b], 0.95))).toBe(true);
  });

  it('bounded: a sketch keeps at most 2048 bins whatever the values; groups stop at --max-groups', () => {
    const agg = new UsageAggregator(['user'], 3);
    const spread = [1e-300, 1e-100, 1e-10, 1, 1e14];
    for (let i = 0; i < 100; i++) agg.add(entry({ user: 'x', e2e_ms: spread[i % 5] }));
    const sketch = (agg as unknown as { groups: { e2e: { sketch: { store: { bins: number[] } } } }[] }).groups[0].e2e.sketch;
    expect(sketch.store.bins.length).toBeLessThanOrEqual(2048);
    expect(withinAccuracy(agg.result().rows[0].e2e_p95_ms, 1e14)).toBe(true); // rank ⌊0.95·99⌋ = 94 of 100
    agg.add(entry({ user: 'y' }));
    agg.add(entry({ user: null }));
    expect(() => agg.add(entry({ user: 'z' }))).toThrow(TooManyGroupsError);
    expect(agg.groupCount).toBe(3);
  });

  it('day and hour are UTC', () => {
    const agg = new UsageAggregator(['day', 'hour']);
    agg.add(entry({ ts: '2026-11-30T23:59:59.999Z' }));
    agg.add(entry({ ts: '2026-12-01T00:30:00.000+01:00' }));
    agg.add(entry({ ts: '2026-12-01T00:00:00.000Z' }));
    expect(agg.result().rows.map((r) => [r.group, r.requests])).toEqual([
      [{ day: '2026-11-30', hour: '2026-11-30T23:00Z' }, 2], // 00:30+01:00 is 23:30 UTC
      [{ day: '2026-12-01', hour: '2026-12-01T00:00Z' }, 1],
    ]);
  });
});

describe('sortRows', () => {
  it('figures largest first, keys A-Z, nulls last either way', () => {
    const agg = new UsageAggregator(['user']);
    for (const [user, n] of [['b', 2], ['a', 2], [null, 5], ['c', 1]] as const) for (let i = 0; i < n; i++) agg.add(entry({ user, cost: user === 'c' ? 1 : undefined }));
    const users = (sort: string, top: number | null = null) => sortRows(agg.result().rows, ['user'], parseSort(sort, ['user']), top).map((r) => r.group.user);
    expect(users('requests')).toEqual([null, 'a', 'b', 'c']);
    expect(users('requests:asc')).toEqual(['c', 'a', 'b', null]);
    expect(users('user')).toEqual(['a', 'b', 'c', null]);
    expect(users('user:desc')).toEqual(['c', 'b', 'a', null]);
    expect(users('cost:asc')).toEqual(['c', 'a', 'b', null]);
    expect(users('requests', 2)).toEqual([null, 'a']);
  });
});

describe('LineSplitter', () => {
  it('lines across chunk boundaries, multi-byte characters split between chunks, overlong lines dropped', () => {
    const got: string[] = [];
    let tooLong = 0;
    const s = new LineSplitter({ line: (l) => got.push(l), tooLong: () => tooLong++ });
    const text = Buffer.from(`héllo 😀\nsecond\r\n${'x'.repeat(MAX_LINE_CHARS + 10)}\nafter\nlast`);
    for (let i = 0; i < text.length; i += 7777) s.write(text.subarray(i, i + 7777));
    s.end();
    expect(got).toEqual(['héllo 😀', 'second\r', 'after', 'last']);
    expect(tooLong).toBe(1);
  });
});

describe('LatencyDigest', () => {
  it('exact up to EXACT_MAX values, then a sketch within 1%; merging mixes both', () => {
    const rand = prng(5);
    const small = new LatencyDigest();
    const big = new LatencyDigest();
    const vs: number[] = [];
    for (let i = 0; i < EXACT_MAX; i++) {
      const v = Math.round(rand() * 1e6) / 1000;
      vs.push(v);
      small.add(v);
    }
    expect(small.quantile(0.5)).toBe(exactQuantile(vs, 0.5));
    expect(small.quantile(0.95)).toBe(exactQuantile(vs, 0.95));
    const all = [...vs];
    for (let i = 0; i < 5000; i++) {
      const v = Math.round(rand() * 1e7) / 1000;
      all.push(v);
      big.add(v);
    }
    big.merge(small);
    small.add(1); // past EXACT_MAX: a sketch now
    expect(big.count).toBe(5000 + EXACT_MAX);
    for (const q of [0.5, 0.95]) expect(withinAccuracy(big.quantile(q), exactQuantile(all, q))).toBe(true);
    expect(withinAccuracy(small.quantile(0.95), exactQuantile([...vs, 1], 0.95))).toBe(true);
    expect(new LatencyDigest().quantile(0.5)).toBeNull();
  });
});
