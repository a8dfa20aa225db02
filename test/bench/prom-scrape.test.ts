import { describe, expect, it } from 'vitest';
import {
  histogramDelta,
  histogramQuantile,
  histogramQuantileInBucket,
  parseExposition,
  readHistogram,
  sumBy,
  sumSeries,
  type Histogram,
} from '../../src/bench/prom-scrape.js';
import { proxySide } from '../../src/bench/proxy-side.js';

const TEXT = `# HELP tokentap_requests_total Requests.
# TYPE tokentap_requests_total counter
tokentap_requests_total{model="m",endpoint="chat_completions",stream="true",code="200",outcome="ok"} 7
tokentap_requests_total{model="m",endpoint="chat_completions",stream="true",code="500",outcome="upstream_error"} 1
tokentap_requests_total{model="m",endpoint="completions",stream="false",code="200",outcome="ok"} 4 1700000000000
weird_metric{path="a \\"quoted\\" \\\\ one,with}braces"} +Inf
plain_metric 3.5e-3
`;

describe('parseExposition', () => {
  it('parses names, labels (with escapes) and values; skips comments', () => {
    const s = parseExposition(TEXT);
    expect(s).toHaveLength(5);
    expect(s[0]).toEqual({
      name: 'tokentap_requests_total',
      labels: { model: 'm', endpoint: 'chat_completions', stream: 'true', code: '200', outcome: 'ok' },
      value: 7,
    });
    expect(s[2].value).toBe(4); // timestamp ignored
    expect(s[3].labels.path).toBe('a "quoted" \\ one,with}braces');
    expect(s[3].value).toBe(Infinity);
    expect(s[4]).toEqual({ name: 'plain_metric', labels: {}, value: 0.0035 });
    expect(sumSeries(s, 'tokentap_requests_total', (l) => l.endpoint === 'chat_completions')).toBe(8);
    expect(Object.fromEntries(sumBy(s, 'tokentap_requests_total', 'code'))).toEqual({ '200': 11, '500': 1 });
  });
});

const hist = (pairs: [number, number][], sum = 0): Histogram => ({
  buckets: pairs.map(([le, count]) => ({ le, count })),
  sum,
  count: pairs[pairs.length - 1][1],
});

describe('histogramQuantile (as PromQL histogram_quantile)', () => {
  const h = hist([
    [0.1, 10],
    [0.2, 30],
    [0.5, 38],
    [Infinity, 40],
  ]);

  it('interpolates linearly inside the bucket holding the rank', () => {
    // rank 20 -> bucket (0.1, 0.2], 10 below, 20 inside: 0.1 + 0.1 * (10/20)
    expect(histogramQuantile(h, 0.5)).toBeCloseTo(0.15, 12);
    // rank 4 -> first bucket, lower bound 0: 0.1 * 4/10
    expect(histogramQuantile(h, 0.1)).toBeCloseTo(0.04, 12);
    // rank 36 -> (0.2, 0.5], 30 below, 8 inside: 0.2 + 0.3 * 6/8
    expect(histogramQuantile(h, 0.9)).toBeCloseTo(0.425, 12);
  });

  it('returns the largest finite bound when the rank falls in +Inf', () => {
    expect(histogramQuantile(h, 0.99)).toBe(0.5);
  });

  it('says which bucket the value was interpolated in (upper null: the +Inf bucket)', () => {
    expect(histogramQuantileInBucket(h, 0.5)).toEqual({ value: expect.closeTo(0.15, 12), lower: 0.1, upper: 0.2 });
    expect(histogramQuantileInBucket(h, 0.1)).toEqual({ value: expect.closeTo(0.04, 12), lower: 0, upper: 0.1 });
    expect(histogramQuantileInBucket(h, 0.99)).toEqual({ value: 0.5, lower: 0.5, upper: null });
    expect(histogramQuantileInBucket(hist([[0.1, 0], [Infinity, 0]]), 0.5)).toBeNull();
  });

  it('is null for an empty histogram', () => {
    expect(histogramQuantile(hist([[0.1, 0], [Infinity, 0]]), 0.5)).toBeNull();
    expect(histogramQuantile({ buckets: [], sum: 0, count: 0 }, 0.5)).toBeNull();
  });

  it('works on before/after deltas summed over label sets', () => {
    const mk = (a: number[], b: number[]) =>
      parseExposition(
        [
          ...['0.1', '0.2', '+Inf'].map((le, i) => `x_seconds_bucket{model="a",endpoint="chat_completions",le="${le}"} ${a[i]}`),
          ...['0.1', '0.2', '+Inf'].map((le, i) => `x_seconds_bucket{model="b",endpoint="chat_completions",le="${le}"} ${b[i]}`),
          `x_seconds_sum{model="a",endpoint="chat_completions"} ${a[3]}`,
          `x_seconds_count{model="a",endpoint="chat_completions"} ${a[2]}`,
          `x_seconds_sum{model="b",endpoint="chat_completions"} ${b[3]}`,
          `x_seconds_count{model="b",endpoint="chat_completions"} ${b[2]}`,
        ].join('\n'),
      );
    const before = readHistogram(mk([5, 5, 5, 0.25], [0, 0, 0, 0]), 'x_seconds');
    const after = readHistogram(mk([5, 10, 10, 1.25], [2, 4, 5, 1.0]), 'x_seconds');
    const d = histogramDelta(before, after);
    expect(d.buckets).toEqual([
      { le: 0.1, count: 2 },
      { le: 0.2, count: 9 },
      { le: Infinity, count: 10 },
    ]);
    expect(d.count).toBe(10);
    expect(d.sum).toBeCloseTo(2.0, 12);
    // rank 5 -> (0.1, 0.2]: 0.1 + 0.1 * 3/7
    expect(histogramQuantile(d, 0.5)).toBeCloseTo(0.1 + 0.1 * (3 / 7), 12);
  });
});

describe('proxySide', () => {
  it('reports counts by code/outcome, exact means and bucket quantiles in ms', () => {
    const lines = (n: number, fast: number, sum: number) =>
      parseExposition(
        [
          `tokentap_requests_total{model="m",endpoint="chat_completions",stream="true",code="200",outcome="ok"} ${n}`,
          `tokentap_requests_total{model="m",endpoint="embeddings",stream="false",code="200",outcome="ok"} 99`,
          `tokentap_time_to_first_token_seconds_bucket{model="m",endpoint="chat_completions",le="0.08"} ${fast}`,
          `tokentap_time_to_first_token_seconds_bucket{model="m",endpoint="chat_completions",le="0.1"} ${n}`,
          `tokentap_time_to_first_token_seconds_bucket{model="m",endpoint="chat_completions",le="+Inf"} ${n}`,
          `tokentap_time_to_first_token_seconds_sum{model="m",endpoint="chat_completions"} ${sum}`,
          `tokentap_time_to_first_token_seconds_count{model="m",endpoint="chat_completions"} ${n}`,
          `tokentap_tokens_total{model="m",endpoint="chat_completions",type="completion"} ${n * 10}`,
        ].join('\n'),
      );
    const p = proxySide(lines(2, 0, 0.17), lines(12, 0, 0.17 + 0.85), 'chat', 'http://x/metrics');
    expect(p.requests).toBe(10);
    expect(p.byCode).toEqual({ '200': 10 });
    expect(p.byOutcome).toEqual({ ok: 10 });
    expect(p.ttftMs.count).toBe(10);
    expect(p.ttftMs.mean).toBeCloseTo(85, 9);
    expect(p.ttftMs.p50).toBeCloseTo(90, 9); // (0.08, 0.1], halfway
    expect(p.ttftMs.source).toBe('metrics');
    expect(p.ttftMs.buckets!.p50).toEqual({ lower: 80, upper: 100 }); // in ms, as the value
    expect(p.ttftMs.max).toBeNull();
    expect(p.tokens).toEqual({ completion: 100 });
    expect(p.e2eMs.count).toBe(0);
    expect(p.e2eMs.mean).toBeNull();
  });
});
