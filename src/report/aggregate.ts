/**
 * The usage report's accumulator: entries in, one row per group out. Pure (no I/O), and bounded: the memory
 * is O(groups), never O(entries). Sums are exact (tokens are integers; cost is summed in integer nanos, which
 * is the access log's rounding); latency percentiles are exact for small groups and come from DDSketch, a
 * mergeable quantile sketch with a relative-error guarantee, for the others (latency.ts).
 */
import type { UsageEntry } from './entry.js';
import { LatencyDigest } from './latency.js';

/** What `--by` can group on. `day` and `hour` are UTC, like the log's `ts`. */
export const GROUP_KEYS = ['user', 'key', 'model', 'endpoint', 'day', 'hour'] as const;
export type GroupKey = (typeof GROUP_KEYS)[number];

/** Default bound on the number of groups (`--max-groups`). */
export const DEFAULT_MAX_GROUPS = 100_000;

/** Thrown when a new group would exceed the bound; the message says how to narrow the report. */
export class TooManyGroupsError extends Error {}

const NANOS = 1e9;

/** One group's running totals. */
class GroupStats {
  requests = 0;
  errors = 0;
  promptTokens = 0;
  cachedTokens = 0;
  completionTokens = 0;
  reasoningTokens = 0;
  /** Whole currency units and the nanos below one (cost = units + nanos / 1e9, exactly). */
  costUnits = 0;
  costNanos = 0;
  priced = 0;
  /** Requests with tokens but no cost (a model without a price, or a log from before pricing). */
  unpriced = 0;
  readonly ttft = new LatencyDigest();
  readonly e2e = new LatencyDigest();

  constructor(readonly keys: (string | null)[]) {}

  add(e: UsageEntry): void {
    this.requests++;
    if (e.error) this.errors++;
    this.promptTokens += e.promptTokens ?? 0;
    this.cachedTokens += e.cachedTokens ?? 0;
    this.completionTokens += e.completionTokens ?? 0;
    this.reasoningTokens += e.reasoningTokens ?? 0;
    if (e.cost !== null) {
      this.priced++;
      this.costNanos += Math.round(e.cost * NANOS);
      if (this.costNanos >= NANOS) {
        const whole = Math.floor(this.costNanos / NANOS);
        this.costUnits += whole;
        this.costNanos -= whole * NANOS;
      }
    } else if ((e.promptTokens ?? 0) + (e.completionTokens ?? 0) > 0) this.unpriced++;
    if (e.ttftMs !== null) this.ttft.add(e.ttftMs);
    this.e2e.add(e.e2eMs);
  }

  /** Adds `o`'s totals and sketches into this one (for the total row). */
  merge(o: GroupStats): void {
    this.requests += o.requests;
    this.errors += o.errors;
    this.promptTokens += o.promptTokens;
    this.cachedTokens += o.cachedTokens;
    this.completionTokens += o.completionTokens;
    this.reasoningTokens += o.reasoningTokens;
    this.costUnits += o.costUnits;
    this.costNanos += o.costNanos;
    if (this.costNanos >= NANOS) {
      this.costUnits += 1;
      this.costNanos -= NANOS;
    }
    this.priced += o.priced;
    this.unpriced += o.unpriced;
    this.ttft.merge(o.ttft);
    this.e2e.merge(o.e2e);
  }
}

/** One row of the report: the group's key values (in --by order), then its figures. */
export interface UsageRow {
  /** Key name → value (null: the entries had none, e.g. `user` with attribution off). */
  group: Partial<Record<GroupKey, string | null>>;
  requests: number;
  errors: number;
  prompt_tokens: number;
  cached_tokens: number;
  completion_tokens: number;
  reasoning_tokens: number;
  /** The exact sum as a decimal string (no float noise), null when no entry of the group had a cost. */
  cost: string | null;
  unpriced: number;
  ttft_p50_ms: number | null;
  ttft_p95_ms: number | null;
  e2e_p95_ms: number | null;
}

/** Numeric row fields, in column order (what --sort accepts, with `tokens` = prompt + completion). */
export const ROW_FIGURES = [
  'requests',
  'errors',
  'prompt_tokens',
  'cached_tokens',
  'completion_tokens',
  'reasoning_tokens',
  'cost',
  'unpriced',
  'ttft_p50_ms',
  'ttft_p95_ms',
  'e2e_p95_ms',
] as const;

/** `units + nanos/1e9` as a plain decimal string: 12.3405, 0.000000002, 0. */
function decimal(units: number, nanos: number): string {
  if (nanos === 0) return String(units);
  return `${units}.${String(nanos).padStart(9, '0').replace(/0+$/, '')}`;
}

/** A quantile in ms, rounded to the microsecond (the log's own precision). */
function quantile(d: LatencyDigest, q: number): number | null {
  const v = d.quantile(q);
  return v === null ? null : Math.round(v * 1000) / 1000;
}

function toRow(by: readonly GroupKey[], g: GroupStats): UsageRow {
  const group: UsageRow['group'] = {};
  by.forEach((k, i) => (group[k] = g.keys[i]));
  return {
    group,
    requests: g.requests,
    errors: g.errors,
    prompt_tokens: g.promptTokens,
    cached_tokens: g.cachedTokens,
    completion_tokens: g.completionTokens,
    reasoning_tokens: g.reasoningTokens,
    cost: g.priced === 0 ? null : decimal(g.costUnits, g.costNanos),
    unpriced: g.unpriced,
    ttft_p50_ms: quantile(g.ttft, 0.5),
    ttft_p95_ms: quantile(g.ttft, 0.95),
    e2e_p95_ms: quantile(g.e2e, 0.95),
  };
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

type Level = Map<string | null, Level | GroupStats>;

/** Groups entries by the `by` keys. With no keys, one group holds everything (the total). */
export class UsageAggregator {
  /** Key value → next level, or → the group at the last key. */
  private readonly tree: Level = new Map();
  /** Every group, in first-seen order. */
  private readonly groups: GroupStats[] = [];
  private readonly single: GroupStats | null;
  /** The last day/hour bucket and its label (entries come in time order within a file: one format per hour). */
  private lastDay = NaN;
  private lastDayLabel = '';
  private lastHour = NaN;
  private lastHourLabel = '';

  constructor(
    readonly by: readonly GroupKey[],
    private readonly maxGroups = DEFAULT_MAX_GROUPS,
  ) {
    this.single = by.length === 0 ? new GroupStats([]) : null;
  }

  get groupCount(): number {
    return this.single ? 1 : this.groups.length;
  }

  private value(k: GroupKey, e: UsageEntry): string | null {
    switch (k) {
      case 'user':
        return e.user;
      case 'key':
        return e.keyId;
      case 'model':
        return e.model;
      case 'endpoint':
        return e.endpoint;
      case 'day': {
        const d = Math.floor(e.tsMs / DAY_MS);
        if (d !== this.lastDay) [this.lastDay, this.lastDayLabel] = [d, new Date(d * DAY_MS).toISOString().slice(0, 10)];
        return this.lastDayLabel;
      }
      case 'hour': {
        const h = Math.floor(e.tsMs / HOUR_MS);
        if (h !== this.lastHour) [this.lastHour, this.lastHourLabel] = [h, `${new Date(h * HOUR_MS).toISOString().slice(0, 13)}:00Z`];
        return this.lastHourLabel;
      }
    }
  }

  add(e: UsageEntry): void {
    if (this.single) return this.single.add(e);
    // One Map level per key (no key string built per entry): the last level holds the groups.
    const by = this.by;
    const last = by.length - 1;
    let level = this.tree;
    for (let i = 0; i < last; i++) {
      const v = this.value(by[i], e);
      let next = level.get(v) as Level | undefined;
      if (!next) level.set(v, (next = new Map()));
      level = next;
    }
    const v = this.value(by[last], e);
    let g = level.get(v) as GroupStats | undefined;
    if (!g) {
      if (this.groups.length >= this.maxGroups) {
        throw new TooManyGroupsError(
          `more than ${this.maxGroups} groups for --by ${by.join(',')}: group by fewer keys, narrow the time ` +
            `window (--since, --from, --to), or raise --max-groups (a group holds up to about 10 KB)`,
        );
      }
      g = new GroupStats(by.map((k) => this.value(k, e)));
      level.set(v, g);
      this.groups.push(g);
    }
    g.add(e);
  }

  /** One row per group, in first-seen order, and the total over all of them (sketches merged). */
  result(): { rows: UsageRow[]; total: UsageRow } {
    if (this.single) return { rows: [toRow([], this.single)], total: toRow([], this.single) };
    const total = new GroupStats([]);
    const rows: UsageRow[] = [];
    for (const g of this.groups) {
      rows.push(toRow(this.by, g));
      total.merge(g);
    }
    return { rows, total: toRow([], total) };
  }
}
