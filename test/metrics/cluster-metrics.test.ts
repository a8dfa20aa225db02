/**
 * The --workers primary's aggregate (src/metrics/cluster-metrics.ts), from the reports of two workers' real
 * registries (getMetricsAsJSON, sent through JSON as the cluster's IPC channel sends them): the classic text
 * is exactly prom-client's aggregate; the OpenMetrics text has the same values, `# EOF`, and on each bucket the
 * newest exemplar of any worker, written byte for byte as a single process writes it.
 */
import client, { type Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { aggregateClassic, aggregateOpenMetrics, type WorkerMetrics } from '../../src/metrics/cluster-metrics.js';
import { FastCounter } from '../../src/metrics/fast-counter.js';
import { ExemplarHistogram } from '../../src/metrics/fast-histogram.js';
import { metricSum, parseExposition } from '../helpers/prom.js';

/** The performance.now() reading at this epoch time in ms (exemplar timestamps are wall-clock seconds). */
const at = (epochMs: number) => epochMs - performance.timeOrigin;
const T0 = 1_700_000_000_000;
const TRACE = '0af7651916cd43dd8448eb211c80319c';

/** One worker's metrics: an exemplar histogram, a counter, and prom-client gauges with their aggregators. */
function worker(up: number) {
  const reg = new client.Registry();
  const h = new ExemplarHistogram('ttft_seconds', 'TTFT.', ['model'], [0.1, 1], reg);
  const c = new FastCounter('req_total', 'Requests.', ['model'], reg);
  new client.Gauge({ name: 'up', help: 'Up.', registers: [reg], aggregator: 'min' }).set(up);
  new client.Gauge({ name: 'in_flight', help: 'In flight.', registers: [reg] }).set(2);
  return { reg, h: h.labels('m'), c: c.labels('m'), exposition: (om: boolean) => h.exposition(om) };
}

/** What the primary receives: each registry's getMetricsAsJSON(), through JSON (the IPC channel's serialization). */
const report = async (...regs: Registry[]): Promise<WorkerMetrics[]> =>
  JSON.parse(JSON.stringify(await Promise.all(regs.map((r) => r.getMetricsAsJSON())))) as WorkerMetrics[];

const exemplarOf = (text: string, line: string) => text.split('\n').find((l) => l.startsWith(line));

describe('the --workers aggregate', () => {
  it('OpenMetrics: the sums of the classic text, and per bucket the newest exemplar over the workers', async () => {
    const a = worker(1);
    const b = worker(0);
    a.h.observeWithExemplar(0.05, 'a-old', null, at(T0)); // le=0.1: b's is newer
    b.h.observeWithExemplar(0.06, 'b-new', TRACE, at(T0 + 1000));
    b.h.observeWithExemplar(0.5, 'b-old', null, at(T0 + 2000)); // le=1: a's is newer, though b is listed second
    a.h.observeWithExemplar(0.6, 'a-new', null, at(T0 + 3000));
    a.h.observeWithExemplar(5, 'a-inf', null, at(T0 + 500)); // +Inf: only a has one
    b.h.observe(7); // counted, no exemplar
    a.c.inc(3);
    b.c.inc(4);
    const responses = await report(a.reg, b.reg);

    const classic = await aggregateClassic(responses);
    expect(classic).toBe(await client.AggregatorRegistry.aggregate(await report(a.reg, b.reg)).metrics()); // clusterMetrics()'s text
    expect(classic).not.toContain(' # {');
    const om = (await aggregateOpenMetrics(responses)).join('');
    expect(om.endsWith('\n# EOF\n')).toBe(true);
    expect(om.match(/# EOF/g)!.length).toBe(1);

    // The values: the same in both formats, the sums (and the gauges' aggregators).
    const values = (text: string) => parseExposition(text).map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`);
    expect(values(om)).toEqual(values(classic));
    expect(metricSum(om, 'ttft_seconds_count')).toBe(6);
    expect(metricSum(om, 'ttft_seconds_bucket', { le: '0.1' })).toBe(2);
    expect(metricSum(om, 'ttft_seconds_bucket', { le: '1' })).toBe(4);
    expect(metricSum(om, 'req_total')).toBe(7);
    expect(metricSum(om, 'up')).toBe(0); // min
    expect(metricSum(om, 'in_flight')).toBe(4); // sum
    expect(om).toContain('# TYPE req counter\n'); // an OpenMetrics counter family: no _total
    expect(classic).toContain('# TYPE req_total counter\n');

    // The newest exemplar of each bucket, whichever worker holds it.
    expect(exemplarOf(om, 'ttft_seconds_bucket{model="m",le="0.1"}')).toBe(
      `ttft_seconds_bucket{model="m",le="0.1"} 2 # {request_id="b-new",trace_id="${TRACE}"} 0.06 1700000001.000`,
    );
    expect(exemplarOf(om, 'ttft_seconds_bucket{model="m",le="1"}')).toBe('ttft_seconds_bucket{model="m",le="1"} 4 # {request_id="a-new"} 0.6 1700000003.000');
    expect(exemplarOf(om, 'ttft_seconds_bucket{model="m",le="+Inf"}')).toBe(
      'ttft_seconds_bucket{model="m",le="+Inf"} 6 # {request_id="a-inf"} 5 1700000000.500',
    );
    expect(om.match(/ # \{/g)!.length).toBe(3); // on buckets only
  });

  it("one worker's aggregate writes its exemplars exactly as the worker itself would (escaping, the 128-character rule)", async () => {
    const w = worker(1);
    const long = `long-${'x'.repeat(95)}`; // fits alone, not beside a trace id: the trace id is kept
    w.h.observeWithExemplar(0.05, 'q "\\ \n', null, at(T0 + 1));
    w.h.observeWithExemplar(0.5, long, TRACE, at(T0 + 2));
    w.h.observeWithExemplar(3, 'x'.repeat(119), null, at(T0 + 3)); // fits nowhere: no exemplar, as in one process
    const om = (await aggregateOpenMetrics(await report(w.reg))).join('');
    const own = w.exposition(true).split('\n').filter((l) => l.includes('_bucket'));
    expect(own.length).toBe(3);
    for (const line of own) expect(om).toContain(`${line}\n`); // the same bucket lines, exemplars included
    expect(om).toContain(`# {trace_id="${TRACE}"} 0.5 `);
    expect(om).toContain('# {request_id="q \\"\\\\ \\n"} 0.05 ');
  });

  it('no worker up: an empty classic text, an OpenMetrics text of `# EOF` alone', async () => {
    expect(await aggregateClassic([])).toBe('');
    expect((await aggregateOpenMetrics([])).join('')).toBe('# EOF\n');
  });
});
