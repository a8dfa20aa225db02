/**
 * A Prometheus histogram for the hot path: a label set is bound once (`labels()`), and `observe()` is a bucket
 * search and three additions, with no per-observation label hashing or validation (prom-client's Histogram
 * hashes the labels on every observe; tokentap observes once per token gap). It registers in a prom-client
 * Registry and exposes the same series and the same cluster aggregation (`sum`) as prom-client's Histogram.
 */
import type { Registry } from 'prom-client';
import { SeriesByLabels, type LabelSet } from './label-sets.js';
import { nextTurn, sliceSpent } from './sliced-render.js';

export interface HistogramSeries {
  observe(value: number): void;
}

class Series implements HistogramSeries {
  readonly counts: number[];
  sum = 0;
  count = 0;
  readonly labels: Record<string, string>;
  readonly labelText: string;

  constructor(
    private readonly bounds: readonly number[],
    { labels, labelText }: LabelSet,
  ) {
    this.counts = new Array<number>(bounds.length).fill(0);
    this.labels = labels;
    this.labelText = labelText;
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    if (i < bounds.length) this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

interface ExportedValue {
  labels: Record<string, string>;
  value: number;
  metricName: string;
}

export class FastHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bounds: readonly number[];
  private readonly boundLabels: readonly string[];
  private readonly series: SeriesByLabels<Series>;

  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly L[],
    buckets: readonly number[],
    register: Registry,
  ) {
    const bounds = [...buckets];
    this.bounds = bounds;
    this.boundLabels = bounds.map(String);
    this.series = new SeriesByLabels(labelNames, (set) => new Series(bounds, set));
    register.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The series for these label values (in labelNames order), created on first use. */
  labels(...values: string[]): HistogramSeries {
    return this.series.get(values);
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: ExportedValue[] }> {
    const values: ExportedValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.all()) {
      if (s.count === 0) continue; // never observed: no series, as with prom-client
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i];
        values.push({ labels: { ...s.labels, le: this.boundLabels[i] }, value: acc, metricName: bucket });
      }
      values.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: bucket });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
      if (sliceSpent()) await nextTurn(); // a cluster worker answers the primary from the loop that relays streams
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The text exposition in parts (see renderExposition): HELP, TYPE, then each series' lines, built directly
   * (no intermediate objects). */
  *expositionParts(): Generator<string> {
    yield `# HELP ${this.name} ${this.help}`;
    yield `# TYPE ${this.name} histogram`;
    const bucket = `${this.name}_bucket{`;
    for (const s of this.series.all()) {
      // Never observed: no series, as with prom-client (binding a label set, e.g. a new model's requests under
      // `other` until the upstream's 2xx, creates none).
      if (s.count === 0) continue;
      const prefix = s.labelText === '' ? bucket : `${bucket}${s.labelText},`;
      let text = '';
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i];
        text += `${prefix}le="${this.boundLabels[i]}"} ${acc}\n`;
      }
      const braces = s.labelText === '' ? '' : `{${s.labelText}}`;
      yield `${text}${prefix}le="+Inf"} ${s.count}\n${this.name}_sum${braces} ${s.sum}\n${this.name}_count${braces} ${s.count}`;
    }
  }

  /** The whole text exposition in one synchronous pass (tests; the metrics port uses renderExposition). */
  exposition(): string {
    return [...this.expositionParts()].join('\n');
  }

  reset(): void {
    this.series.clear();
  }
}
