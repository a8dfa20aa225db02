/**
 * A Prometheus counter or gauge for the hot path, the counterpart of FastHistogram: a label set is bound once
 * (`labels()`) and `inc()`/`dec()` is one addition (prom-client hashes and validates the label object on every
 * `inc()`, even on a bound child). It registers in a prom-client Registry and exposes the same series and the
 * same cluster aggregation (`sum`) as prom-client's Counter and Gauge.
 */
import type { Registry } from 'prom-client';
import { escapeLabelValue } from './fast-histogram.js';

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
  /** `a="x",b="y"`, formatted once for the text exposition. */
  readonly labelText: string;

  constructor(readonly labels: Record<string, string>) {
    this.labelText = Object.entries(labels)
      .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
      .join(',');
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
  private readonly series = new Map<string, Series>();

  constructor(
    readonly type: 'counter' | 'gauge',
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    register: Registry,
  ) {
    register.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  protected series_(values: string[]): Series {
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (s === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i]));
      s = new Series(labels);
      this.series.set(key, s);
    }
    return s;
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: { labels: Record<string, string>; value: number }[] }> {
    const values = [...this.series.values()].filter((s) => s.used).map((s) => ({ labels: s.labels, value: s.value }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The text exposition, built directly. */
  exposition(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const s of this.series.values()) {
      if (s.used) lines.push(s.labelText === '' ? `${this.name} ${s.value}` : `${this.name}{${s.labelText}} ${s.value}`);
    }
    return lines.join('\n');
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
    return this.series_(values);
  }
}

export class FastGauge<L extends string> extends FastScalar<L> {
  constructor(name: string, help: string, labelNames: readonly L[], register: Registry) {
    super('gauge', name, help, labelNames, register);
  }

  /** The series for these label values (in labelNames order), created on first use. */
  labels(...values: string[]): GaugeSeries {
    return this.series_(values);
  }
}
