import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastHistogram } from '../../src/metrics/fast-histogram.js';
import { metricSum, parseExposition } from '../helpers/prom.js';

describe('FastHistogram', () => {
  it("exposes exactly what prom-client's Histogram exposes for the same observations", async () => {
    const buckets = [0.01, 0.1, 1, 2.5];
    const ours = new client.Registry();
    const theirs = new client.Registry();
    const fast = new FastHistogram('h_seconds', 'help', ['model', 'endpoint'], buckets, ours);
    const ref = new client.Histogram({ name: 'h_seconds', help: 'help', labelNames: ['model', 'endpoint'], buckets, registers: [theirs] });
    const values = [0, 0.01, 0.0100001, 0.05, 0.1, 0.7, 1, 2.5, 3, 1e9];
    for (const v of values) {
      fast.labels('a', 'chat').observe(v);
      ref.labels('a', 'chat').observe(v);
      fast.labels('b "quoted"', 'other').observe(v / 2);
      ref.labels('b "quoted"', 'other').observe(v / 2);
    }
    const norm = (text: string) =>
      parseExposition(text)
        .map((s) => `${s.name}${JSON.stringify(Object.fromEntries(Object.entries(s.labels).sort()))}=${s.value}`)
        .sort();
    expect(norm(await ours.metrics())).toEqual(norm(await theirs.metrics()));
    expect(norm(fast.exposition())).toEqual(norm(await theirs.metrics())); // the direct text path too
    fast.labels('bound', 'never observed'); // as prom-client: a label set bound but never observed has no series
    ref.labels('bound', 'never observed');
    expect(norm(fast.exposition())).toEqual(norm(await theirs.metrics()));
    expect(norm(await ours.metrics())).toEqual(norm(await theirs.metrics()));
    fast.labels('new\nline \\ "q"', 'x').observe(1);
    ref.labels('new\nline \\ "q"', 'x').observe(1);
    expect(norm(fast.exposition())).toEqual(norm(await theirs.metrics()));
    expect(metricSum(await ours.metrics(), 'h_seconds_bucket', { model: 'a', le: '0.1' })).toBe(5);
    expect((await ours.metrics()).split('\n').slice(0, 2)).toEqual(['# HELP h_seconds help', '# TYPE h_seconds histogram']);
  });

  it('aggregates across cluster workers like prom-client (sum)', async () => {
    const a = new client.Registry();
    const b = new client.Registry();
    new FastHistogram('x', 'h', ['m'], [1], a).labels('q').observe(0.5);
    new FastHistogram('x', 'h', ['m'], [1], b).labels('q').observe(2);
    const merged = client.AggregatorRegistry.aggregate([await a.getMetricsAsJSON(), await b.getMetricsAsJSON()]);
    const text = await merged.metrics();
    expect(metricSum(text, 'x_count', { m: 'q' })).toBe(2);
    expect(metricSum(text, 'x_bucket', { m: 'q', le: '1' })).toBe(1);
    expect(metricSum(text, 'x_sum', { m: 'q' })).toBe(2.5);
  });
});
