/** `--sort FIELD[:asc|desc]` and `--top N`: the order and number of the report's rows. Pure. */
import { ROW_FIGURES, type GroupKey, type UsageRow } from './aggregate.js';
import { UsageError } from './time-range.js';

/** What rows can be sorted on: a figure, `tokens` (prompt + completion), or one of the --by keys. */
export type SortField = (typeof ROW_FIGURES)[number] | 'tokens' | GroupKey;

export interface SortSpec {
  field: SortField;
  descending: boolean;
}

/** Figures sort largest first unless `:asc`; keys (user, day, …) A→Z / oldest first unless `:desc`. */
export function parseSort(value: string, by: readonly GroupKey[]): SortSpec {
  const [name, dir, extra] = value.split(':');
  const fields: readonly string[] = [...ROW_FIGURES, 'tokens', ...by];
  if (!fields.includes(name) || extra !== undefined || (dir !== undefined && dir !== 'asc' && dir !== 'desc')) {
    throw new UsageError(`--sort must be FIELD or FIELD:asc|desc with FIELD one of ${fields.join(', ')}; got "${value}"`);
  }
  const isKey = (by as readonly string[]).includes(name);
  return { field: name as SortField, descending: dir === undefined ? !isKey : dir === 'desc' };
}

function sortValue(r: UsageRow, f: SortField): number | string | null {
  if (f === 'tokens') return r.prompt_tokens + r.completion_tokens;
  if (f === 'cost') return r.cost === null ? null : Number(r.cost);
  if (f in r.group) return r.group[f as GroupKey] ?? null;
  return r[f as (typeof ROW_FIGURES)[number]] as number | null;
}

/** Key values compared in --by order (the tie-breaker that makes every order deterministic). */
function compareKeys(a: UsageRow, b: UsageRow, by: readonly GroupKey[]): number {
  for (const k of by) {
    const x = a.group[k] ?? null;
    const y = b.group[k] ?? null;
    if (x === y) continue;
    if (x === null) return 1;
    if (y === null) return -1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * Sorts in place: by `spec` (nulls last in either direction), ties by the keys; without a spec, by the keys
 * (so `--by day` reads oldest first). `top` keeps that many rows.
 */
export function sortRows(rows: UsageRow[], by: readonly GroupKey[], spec: SortSpec | null, top: number | null): UsageRow[] {
  rows.sort((a, b) => {
    if (spec) {
      const x = sortValue(a, spec.field);
      const y = sortValue(b, spec.field);
      if (x !== y) {
        if (x === null) return 1;
        if (y === null) return -1;
        const c = x < y ? -1 : 1;
        return spec.descending ? -c : c;
      }
    }
    return compareKeys(a, b, by);
  });
  if (top !== null && rows.length > top) rows.length = top;
  return rows;
}
