/**
 * A group's latency values, for p50/p95: exact while the group is small, a DDSketch once it is not. Pure.
 *
 * Most groups of a report with many of them (`--by user,hour`) hold a handful of requests; a DDSketch costs
 * a few KB from its first value (its bins span the values' range), the first EXACT_MAX values kept as they
 * are cost 8 bytes each and give exact percentiles. Past EXACT_MAX the values move into the sketch, whose
 * size is bounded by BIN_LIMIT whatever the number or spread of values.
 */
import { LogCollapsingLowestDenseDDSketch } from '@datadog/sketches-js';

/**
 * A quantile the sketch reports is within 1% of the exact one (the value at rank ⌊q·(n−1)⌋ of the sorted
 * values): for a p95 of 2000 ms, 1980–2020 ms.
 */
export const RELATIVE_ACCURACY = 0.01;
/**
 * Bins per sketch before the lowest are merged (DDSketch's default). At 1% accuracy 2048 bins span a ratio of
 * 1.02^2048 between the smallest and largest value, so real latencies never collapse; hostile ones cannot grow
 * a sketch past this, and a collapse only blurs the lowest quantiles, not p50/p95.
 */
const BIN_LIMIT = 2048;
/** Values kept exactly before a group switches to a sketch. */
export const EXACT_MAX = 64;

type Sketch = LogCollapsingLowestDenseDDSketch;

export class LatencyDigest {
  /** The values while there are at most EXACT_MAX, then null. (A plain array: a typed array costs more per group.) */
  private values: number[] | null = [];
  private sketch: Sketch | null = null;

  get count(): number {
    return this.sketch ? this.sketch.count : this.values!.length;
  }

  add(v: number): void {
    const values = this.values;
    if (values === null) this.sketch!.accept(v);
    else if (values.length === EXACT_MAX) this.toSketch().accept(v);
    else values.push(v);
  }

  private toSketch(): Sketch {
    const s = new LogCollapsingLowestDenseDDSketch({ relativeAccuracy: RELATIVE_ACCURACY, binLimit: BIN_LIMIT });
    for (const v of this.values!) s.accept(v);
    this.values = null;
    this.sketch = s;
    return s;
  }

  /** Adds `o`'s values (for the total row). */
  merge(o: LatencyDigest): void {
    if (o.sketch) (this.sketch ?? this.toSketch()).merge(o.sketch);
    else for (const v of o.values!) this.add(v);
  }

  /** The value at rank ⌊q·(n−1)⌋: exact for a small group, within RELATIVE_ACCURACY from the sketch; null if empty. */
  quantile(q: number): number | null {
    if (this.sketch) return this.sketch.count === 0 ? null : this.sketch.getValueAtQuantile(q);
    const n = this.values!.length;
    if (n === 0) return null;
    const sorted = [...this.values!].sort((a, b) => a - b);
    return sorted[Math.floor(q * (n - 1))];
  }
}
