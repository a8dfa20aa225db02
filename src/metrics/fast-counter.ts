/**
 * A Prometheus counter or gauge for the hot path, the counterpart of FastHistogram: a label set is bound once
 * (`labels()`) and `inc()`/`dec()` is one addition (prom-client hashes and validates the label object on every
 * `inc()`, even on a bound child). It registers in a prom-client Registry and exposes the same series and the
 * same cluster aggregation (`sum`) as prom-client's Counter and Gauge.
 */
import type { Registry } from 'prom-client';
import { SeriesByLabels, type LabelSet } from './label-sets.js';
import { nextTurn, sliceSpent } from './sliced-render.js';

export interface CounterSeries {
  inc(by?: number): void;
}
export interface GaugeSeries extends CounterSeries {
  dec(by?: number): void;
}

class Series implements GaugeSeries {
  value = 0;
  /** Exposed only once changed, as prom-client does: binding a label set alone creates no series. */
  used = false;
  readonly labels: Record<string, string>;
  readonly labelText: string;

  constructor({ labels, labelText }: LabelSet) {
    this.labels = labels;
    this.labelText = labelText;
  }

  inc(by = 1): void {
    this.value += by;
    this.used = true;
  }

  dec(by = 1): void {
    this.value -= by;
    this.used = true;
  }
}

class FastScalar<L extends string> {
  readonly aggregator = 'sum';
  private readonly series: SeriesByLabels<Series>;

  constructor(
    readonly type: 'counter' | 'gauge',
    readonly name: string,
    readonly help: string,
    labelNames: readonly L[],
    register: Registry,
  ) {
    this.series = new SeriesByLabels(labelNames, (set) => new Series(set));
    register.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The series for these label values (in labelNames order), created on first use. */
  protected seriesFor(values: string[]): Series {
    return this.series.get(values);
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: { labels: Record<string, string>; value: number }[] }> {
    const values: { labels: Record<string, string>; value: number }[] = [];
    for (const s of this.series.all()) {
      if (s.used) values.push({ labels: s.labels, value: s.value });
      if (sliceSpent()) await nextTurn(); // a cluster worker answers the primary from the loop that relays streams
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The text exposition in parts (see renderExposition): HELP, TYPE, then one line per series.
   * `openMetrics`: a counter's family is named without `_total` in HELP and TYPE, its samples with it (as
   * prom-client does in that format, and as Prometheus reads them: the same series in both formats). */
  *expositionParts(openMetrics = false): Generator<string> {
    const family = openMetrics && this.type === 'counter' ? this.name.replace(/_total$/, '') : this.name;
    const sample = openMetrics && this.type === 'counter' ? `${family}_total` : this.name;
    yield `# HELP ${family} ${this.help}`;
    yield `# TYPE ${family} ${this.type}`;
    for (const s of this.series.all()) {
      if (s.used) yield s.labelText === '' ? `${sample} ${s.value}` : `${sample}{${s.labelText}} ${s.value}`;
    }
  }

  /** The whole text exposition in one synchronous pass (tests; the metrics port uses renderExposition). */
  exposition(openMetrics = false): string {
    return [...this.expositionParts(openMetrics)].join('\n');
  }

  reset(): void {
    this.series.clear();
  }
}

export class FastCounter<L extends string> extends FastScalar<L> {
  constructor(name: string, help: string, labelNames: readonly L[], register: Registry) {
    super('counter', name, help, labelNames, register);
  }

  /** The series for these label values (in labelNames order), created on first use. */
  labels(...values: string[]): CounterSeries {
    return this.seriesFor(values);
  }
}

export class FastGauge<L extends string> extends FastScalar<L> {
  constructor(name: string, help: string, labelNames: readonly L[], register: Registry) {
    super('gauge', name, help, labelNames, register);
  }

  /** The series for these label values (in labelNames order), created on first use. */
  labels(...values: string[]): GaugeSeries {
    return this.seriesFor(values);
  }
}
