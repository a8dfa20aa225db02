/** The text exposition of the fast metrics: its exact bytes, whether rendered in one pass or in slices. */
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastCounter, FastGauge } from '../../src/metrics/fast-counter.js';
import { FastHistogram } from '../../src/metrics/fast-histogram.js';
import { renderExposition } from '../../src/metrics/sliced-render.js';

describe('renderExposition', () => {
  it('renders the exact text format, metrics separated by a blank line, a newline at the end', async () => {
    const reg = new client.Registry();
    const h = new FastHistogram('h_seconds', 'help h', ['model'], [0.1, 1], reg);
    const c = new FastCounter('c_total', 'help c', ['code'], reg);
    const g = new FastGauge('g', 'help g', [], reg);
    const empty = new FastCounter('e_total', 'help e', ['m'], reg);
    h.labels('a').observe(0.05);
    h.labels('a').observe(2);
    h.labels('b "q"\n').observe(0.5);
    c.labels('200').inc(3);
    c.labels('bound only'); // no series until changed
    g.labels().inc();
    const text = [
      '# HELP h_seconds help h',
      '# TYPE h_seconds histogram',
      'h_seconds_bucket{model="a",le="0.1"} 1',
      'h_seconds_bucket{model="a",le="1"} 1',
      'h_seconds_bucket{model="a",le="+Inf"} 2',
      'h_seconds_sum{model="a"} 2.05',
      'h_seconds_count{model="a"} 2',
      'h_seconds_bucket{model="b \\"q\\"\\n",le="0.1"} 0',
      'h_seconds_bucket{model="b \\"q\\"\\n",le="1"} 1',
      'h_seconds_bucket{model="b \\"q\\"\\n",le="+Inf"} 1',
      'h_seconds_sum{model="b \\"q\\"\\n"} 0.5',
      'h_seconds_count{model="b \\"q\\"\\n"} 1',
      '',
      '# HELP c_total help c',
      '# TYPE c_total counter',
      'c_total{code="200"} 3',
      '',
      '# HELP g help g',
      '# TYPE g gauge',
      'g 1',
      '',
      '# HELP e_total help e',
      '# TYPE e_total counter',
      '',
    ].join('\n');
    expect((await renderExposition([h, c, g, empty])).join('')).toBe(text);
    expect(`${[h, c, g, empty].map((m) => m.exposition()).join('\n\n')}\n`).toBe(text);
    expect(await renderExposition([])).toEqual([]);
  });

  it('in pieces of whole lines, the same bytes as one synchronous pass, for any number of series', async () => {
    const reg = new client.Registry();
    const h = new FastHistogram('h', 'h', ['model', 'endpoint'], [1, 2, 3], reg);
    const c = new FastCounter('c_total', 'c', ['model'], reg);
    for (let i = 0; i < 20_000; i++) {
      h.labels(`model-${i}`, 'chat').observe(i % 4);
      c.labels(`model-${i} 🙂`).inc(i);
    }
    const pieces = await renderExposition([h, c]);
    expect(pieces.length).toBeGreaterThan(5);
    for (const piece of pieces) expect(piece.endsWith('\n')).toBe(true);
    expect(pieces.join('')).toBe(`${h.exposition()}\n\n${c.exposition()}\n`);
  });

  it('get() (what a cluster worker reports) yields every series, however many', async () => {
    const reg = new client.Registry();
    const h = new FastHistogram('h', 'h', ['model'], [1, 2], reg);
    const c = new FastCounter('c_total', 'c', ['model'], reg);
    for (let i = 0; i < 30_000; i++) {
      h.labels(`m${i}`).observe(1.5);
      c.labels(`m${i}`).inc(2);
    }
    const [hv, cv] = await Promise.all([h.get(), c.get()]);
    expect(hv.values).toHaveLength(30_000 * 5);
    expect(cv.values).toHaveLength(30_000);
    expect(cv.values.reduce((n, v) => n + v.value, 0)).toBe(60_000);
  });
});
