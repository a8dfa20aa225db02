import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastCounter, FastGauge } from '../../src/metrics/fast-counter.js';
import { metricSum, parseExposition } from '../helpers/prom.js';

const norm = (text: string) =>
  parseExposition(text)
    .map((s) => `${s.name}${JSON.stringify(Object.fromEntries(Object.entries(s.labels).sort()))}=${s.value}`)
    .sort();

describe('FastCounter / FastGauge', () => {
  it("expose exactly what prom-client's Counter and Gauge expose for the same operations", async () => {
    const ours = new client.Registry();
    const theirs = new client.Registry();
    const c = new FastCounter('c_total', 'help c', ['model', 'code'], ours);
    const g = new FastGauge('g', 'help g', ['model'], ours);
    const rc = new client.Counter({ name: 'c_total', help: 'help c', labelNames: ['model', 'code'], registers: [theirs] });
    const rg = new client.Gauge({ name: 'g', help: 'help g', labelNames: ['model'], registers: [theirs] });
    for (const [model, n] of [['a', 3], ['b "quoted"\n\\', 7], ['a', 2]] as const) {
      c.labels(model, '200').inc(n);
      rc.labels(model, '200').inc(n);
      c.labels(model, '500').inc();
      rc.labels(model, '500').inc();
      g.labels(model).inc();
      rg.labels(model).inc();
    }
    g.labels('a').dec();
    rg.labels('a').dec();
    c.labels('bound', 'never incremented'); // no series, as with prom-client
    rc.labels('bound', 'never incremented');
    expect(norm(await ours.metrics())).toEqual(norm(await theirs.metrics()));
    expect(norm(`${c.exposition()}\n${g.exposition()}`)).toEqual(norm(await theirs.metrics()));
    expect(metricSum(c.exposition(), 'c_total', { model: 'a', code: '200' })).toBe(5);
    expect(metricSum(g.exposition(), 'g', { model: 'a' })).toBe(1);
    expect(c.exposition().split('\n').slice(0, 2)).toEqual(['# HELP c_total help c', '# TYPE c_total counter']);
    expect(g.exposition().split('\n')[1]).toBe('# TYPE g gauge');
  });

  it('aggregate across cluster workers like prom-client (sum)', async () => {
    const a = new client.Registry();
    const b = new client.Registry();
    new FastCounter('x_total', 'h', ['m'], a).labels('q').inc(2);
    new FastCounter('x_total', 'h', ['m'], b).labels('q').inc(5);
    new FastGauge('y', 'h', ['m'], a).labels('q').inc(1);
    new FastGauge('y', 'h', ['m'], b).labels('q').inc(2);
    const merged = client.AggregatorRegistry.aggregate([await a.getMetricsAsJSON(), await b.getMetricsAsJSON()]);
    const text = await merged.metrics();
    expect(metricSum(text, 'x_total', { m: 'q' })).toBe(7);
    expect(metricSum(text, 'y', { m: 'q' })).toBe(3);
  });
});
