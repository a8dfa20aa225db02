/**
 * The usage report's figures computed the plain way, from the entries a test wrote (every value kept, sorted
 * for exact percentiles; cost summed as BigInt nanos): what `tokentap usage` must print.
 */
import { parseCsv } from './csv.js';

type Entry = Record<string, unknown>;

export const BY_FIELD: Record<string, (e: Entry) => string | null> = {
  user: (e) => (typeof e.user === 'string' ? e.user : null),
  key: (e) => (typeof e.key_id === 'string' ? e.key_id : null),
  model: (e) => e.model as string,
  endpoint: (e) => e.endpoint as string,
  day: (e) => (e.ts as string).slice(0, 10),
  hour: (e) => `${(e.ts as string).slice(0, 13)}:00Z`,
};

export interface Expected {
  keys: (string | null)[];
  requests: number;
  errors: number;
  prompt_tokens: number;
  cached_tokens: number;
  completion_tokens: number;
  reasoning_tokens: number;
  /** Decimal string of the exact sum, null when no entry had a cost. */
  cost: string | null;
  unpriced: number;
  ttft: number[];
  e2e: number[];
}

const num = (v: unknown) => (typeof v === 'number' ? v : 0);

function nanosToDecimal(n: bigint): string {
  const units = n / 1_000_000_000n;
  const frac = (n % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return frac ? `${units}.${frac}` : `${units}`;
}

/** One Expected per group of `by` (in first-seen order); with no `by`, one group. */
export function expectedGroups(entries: Entry[], by: string[]): Expected[] {
  const groups = new Map<string, Expected & { nanos: bigint; priced: number }>();
  for (const e of entries) {
    const keys = by.map((k) => BY_FIELD[k](e));
    const id = JSON.stringify(keys);
    let g = groups.get(id);
    if (!g) {
      g = { keys, requests: 0, errors: 0, prompt_tokens: 0, cached_tokens: 0, completion_tokens: 0, reasoning_tokens: 0, cost: null, unpriced: 0, ttft: [], e2e: [], nanos: 0n, priced: 0 };
      groups.set(id, g);
    }
    g.requests++;
    if (e.outcome !== 'ok') g.errors++;
    g.prompt_tokens += num(e.prompt_tokens);
    g.cached_tokens += num(e.cached_tokens);
    g.completion_tokens += num(e.completion_tokens);
    g.reasoning_tokens += num(e.reasoning_tokens);
    if (typeof e.cost === 'number') {
      g.priced++;
      g.nanos += BigInt(Math.round(e.cost * 1e9));
    } else if (num(e.prompt_tokens) + num(e.completion_tokens) > 0) g.unpriced++;
    if (typeof e.ttft_ms === 'number') g.ttft.push(e.ttft_ms);
    g.e2e.push(e.e2e_ms as number);
  }
  return [...groups.values()].map((g) => ({ ...g, cost: g.priced ? nanosToDecimal(g.nanos) : null }));
}

/** The exact quantile the sketch approximates: the value at rank ⌊q·(n−1)⌋ of the sorted values. */
export function exactQuantile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(q * (s.length - 1))];
}

/** Asserts `got` (ms, rounded to µs) is within 1% of `exact`. */
export function withinAccuracy(got: number | null, exact: number | null): boolean {
  if (exact === null || got === null) return got === exact;
  return Math.abs(got - exact) <= 0.01 * exact + 0.0005 + 1e-9;
}

/** Checks a JSON report's rows against the expected groups (exact figures, percentiles within 1%). */
export function checkRows(rows: Record<string, unknown>[], expected: Expected[], by: string[]): string[] {
  const problems: string[] = [];
  if (rows.length !== expected.length) problems.push(`${rows.length} rows, expected ${expected.length}`);
  const byId = new Map(rows.map((r) => [JSON.stringify(by.map((k) => r[k])), r]));
  for (const x of expected) {
    const r = byId.get(JSON.stringify(x.keys));
    if (!r) {
      problems.push(`no row for ${JSON.stringify(x.keys)}`);
      continue;
    }
    for (const f of ['requests', 'errors', 'prompt_tokens', 'cached_tokens', 'completion_tokens', 'reasoning_tokens', 'unpriced'] as const) {
      if (r[f] !== x[f]) problems.push(`${JSON.stringify(x.keys)} ${f}: ${r[f]} != ${x[f]}`);
    }
    const cost = r.cost === null ? null : String(r.cost);
    if (cost !== x.cost) problems.push(`${JSON.stringify(x.keys)} cost: ${cost} != ${x.cost}`);
    for (const [f, values, q] of [['ttft_p50_ms', x.ttft, 0.5], ['ttft_p95_ms', x.ttft, 0.95], ['e2e_p95_ms', x.e2e, 0.95]] as const) {
      const exact = exactQuantile(values, q);
      if (!withinAccuracy(r[f] as number | null, exact)) problems.push(`${JSON.stringify(x.keys)} ${f}: ${r[f]} not within 1% of ${exact}`);
    }
  }
  return problems;
}

/** CSV text → objects keyed by the header, figures as numbers, empty fields as null (via the strict parser). */
export function csvRecords(text: string): Record<string, string | number | null>[] {
  const [header, ...rows] = parseCsv(text);
  return rows.map((cells) => {
    if (cells.length !== header.length) throw new Error(`a CSV row has ${cells.length} fields, the header ${header.length}`);
    const o: Record<string, string | number | null> = {};
    header.forEach((h, i) => {
      const c = cells[i];
      o[h] = c === '' ? null : /^-?\d+(\.\d+)?$/.test(c) && !['user', 'key', 'model', 'endpoint', 'day', 'hour'].includes(h) ? Number(c) : c;
    });
    return o;
  });
}
