/**
 * A Prometheus histogram for the hot path: a label set is bound once (`labels()`), and `observe()` is a bucket
 * search and three additions, with no per-observation label hashing or validation (prom-client's Histogram
 * hashes the labels on every observe; tokentap observes once per token gap). It registers in a prom-client
 * Registry and exposes the same series and the same cluster aggregation (`sum`) as prom-client's Histogram.
 * ExemplarHistogram adds an exemplar per bucket, written in the OpenMetrics format only.
 */
import type { Registry } from 'prom-client';
import { bucketExemplar, exemplarSuffix, hasExemplarLabels, type BucketExemplar } from './exemplar.js';
import { SeriesByLabels, type LabelSet } from './label-sets.js';
import { nextTurn, sliceSpent } from './sliced-render.js';

export interface HistogramSeries {
  observe(value: number): void;
}

/** A series of an ExemplarHistogram: `observe()` as any, or with the request it comes from. */
export interface ExemplarHistogramSeries extends HistogramSeries {
  /**
   * Observes `value` and makes it its bucket's exemplar: `requestId`, `traceId` (null: none), `at` (when, a
   * performance.now() reading). Stores four references in preallocated arrays: no allocation.
   */
  observeWithExemplar(value: number, requestId: string, traceId: string | null, at: number): void;
}

class Series implements HistogramSeries {
  readonly counts: number[];
  sum = 0;
  count = 0;
  readonly labels: Record<string, string>;
  readonly labelText: string;

  constructor(
    protected readonly bounds: readonly number[],
    { labels, labelText }: LabelSet,
  ) {
    this.counts = new Array<number>(bounds.length).fill(0);
    this.labels = labels;
    this.labelText = labelText;
  }

  /** Counts `value`; returns its bucket's index (bounds.length: +Inf), or -1 when it is not a finite number. */
  observe(value: number): number {
    if (!Number.isFinite(value)) return -1;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    if (i < bounds.length) this.counts[i]++;
    this.sum += value;
    this.count++;
    return i;
  }
}

/**
 * A series with one exemplar per bucket (the last is +Inf): the latest observation that fell in it, in parallel
 * arrays rather than an object per exemplar, so that observing allocates nothing.
 */
class ExemplarSeries extends Series implements ExemplarHistogramSeries {
  /** The request id per bucket, '' while the bucket has no exemplar. */
  readonly exRequestId: string[];
  readonly exTraceId: (string | null)[];
  readonly exValue: Float64Array;
  /** performance.now() of the observation. */
  readonly exAt: Float64Array;

  constructor(bounds: readonly number[], set: LabelSet) {
    super(bounds, set);
    const n = bounds.length + 1;
    this.exRequestId = new Array<string>(n).fill('');
    this.exTraceId = new Array<string | null>(n).fill(null);
    this.exValue = new Float64Array(n);
    this.exAt = new Float64Array(n);
  }

  observeWithExemplar(value: number, requestId: string, traceId: string | null, at: number): void {
    const i = this.observe(value);
    if (i < 0 || !hasExemplarLabels(requestId, traceId)) return;
    this.exRequestId[i] = requestId;
    this.exTraceId[i] = traceId;
    this.exValue[i] = value;
    this.exAt[i] = at;
  }

  /** Bucket i's exemplar in the OpenMetrics format (see exemplarSuffix), '' when it has none. */
  exemplar(i: number): string {
    const id = this.exRequestId[i];
    return id === '' ? '' : exemplarSuffix(id, this.exTraceId[i], this.exValue[i], this.exAt[i]);
  }

  /** Bucket i's exemplar as a bucket value carries it in `get()` (see BucketExemplar), undefined when it has none. */
  bucketExemplar(i: number): BucketExemplar | undefined {
    const id = this.exRequestId[i];
    return id === '' ? undefined : bucketExemplar(id, this.exTraceId[i], this.exValue[i], this.exAt[i]);
  }
}

interface ExportedValue {
  labels: Record<string, string>;
  value: number;
  metricName: string;
  /** An ExemplarHistogram's bucket: its exemplar, for the --workers primary (prom-client's aggregation and
   * classic render ignore it). */
  exemplar?: BucketExemplar;
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
    this.series = new SeriesByLabels(labelNames, (set) => this.newSeries(bounds, set));
    register.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  protected newSeries(bounds: readonly number[], set: LabelSet): Series {
    return new Series(bounds, set);
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
      const ex = s instanceof ExemplarSeries ? s : null;
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i];
        const v: ExportedValue = { labels: { ...s.labels, le: this.boundLabels[i] }, value: acc, metricName: bucket };
        if (ex !== null) v.exemplar = ex.bucketExemplar(i);
        values.push(v);
      }
      const inf: ExportedValue = { labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: bucket };
      if (ex !== null) inf.exemplar = ex.bucketExemplar(this.bounds.length);
      values.push(inf);
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
      if (sliceSpent()) await nextTurn(); // a cluster worker answers the primary from the loop that relays streams
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The text exposition in parts (see renderExposition): HELP, TYPE, then each series' lines, built directly
   * (no intermediate objects). `openMetrics`: the OpenMetrics 1.0 format, the same lines with the buckets'
   * exemplars (ExemplarHistogram). */
  *expositionParts(openMetrics = false): Generator<string> {
    yield `# HELP ${this.name} ${this.help}`;
    yield `# TYPE ${this.name} histogram`;
    const bucket = `${this.name}_bucket{`;
    for (const s of this.series.all()) {
      // Never observed: no series, as with prom-client (binding a label set, e.g. a new model's requests under
      // `other` until the upstream's 2xx, creates none).
      if (s.count === 0) continue;
      const ex = openMetrics && s instanceof ExemplarSeries ? s : null;
      const prefix = s.labelText === '' ? bucket : `${bucket}${s.labelText},`;
      let text = '';
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i];
        text += `${prefix}le="${this.boundLabels[i]}"} ${acc}${ex === null ? '' : ex.exemplar(i)}\n`;
      }
      const braces = s.labelText === '' ? '' : `{${s.labelText}}`;
      const inf = ex === null ? '' : ex.exemplar(this.bounds.length);
      yield `${text}${prefix}le="+Inf"} ${s.count}${inf}\n${this.name}_sum${braces} ${s.sum}\n${this.name}_count${braces} ${s.count}`;
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

/**
 * A FastHistogram whose buckets carry exemplars (the request id and trace id of the latest observation in each),
 * exposed in the OpenMetrics format only. Only the TTFT and E2E histograms are ExemplarHistograms: the others
 * do no exemplar work at all.
 */
export class ExemplarHistogram<L extends string> extends FastHistogram<L> {
  protected override newSeries(bounds: readonly number[], set: LabelSet): Series {
    return new ExemplarSeries(bounds, set);
  }

  override labels(...values: string[]): ExemplarHistogramSeries {
    return super.labels(...values) as ExemplarSeries;
  }
}
