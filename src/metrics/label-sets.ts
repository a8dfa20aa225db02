/**
 * The series of one fast metric, keyed by their label values and created on first use, each with its label
 * set formatted once for the text exposition. Shared by FastHistogram and FastCounter/FastGauge.
 */

/** A label value in the text exposition format. */
export const escapeLabelValue = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

export interface LabelSet {
  /** Label name → value. */
  labels: Record<string, string>;
  /** `a="x",b="y"`, for the text exposition. */
  labelText: string;
}

export class SeriesByLabels<S> {
  private readonly byKey = new Map<string, S>();

  constructor(
    private readonly labelNames: readonly string[],
    private readonly make: (set: LabelSet) => S,
  ) {}

  /** The series for these label values (in labelNames order), created on first use. */
  get(values: readonly string[]): S {
    const key = values.join('\u0000');
    let s = this.byKey.get(key);
    if (s === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i]));
      const labelText = Object.entries(labels)
        .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
        .join(',');
      s = this.make({ labels, labelText });
      this.byKey.set(key, s);
    }
    return s;
  }

  all(): IterableIterator<S> {
    return this.byKey.values();
  }

  clear(): void {
    this.byKey.clear();
  }
}
