/** The usage report as an aligned text table, CSV (RFC 4180) or JSON. Pure: rows in, text out. */
import { ROW_FIGURES, type GroupKey, type UsageRow } from './aggregate.js';

export const FORMATS = ['table', 'csv', 'json'] as const;
export type Format = (typeof FORMATS)[number];

/** What was read, for the JSON document (the table and CSV carry only rows; the CLI says the rest on stderr). */
export interface ReportMeta {
  from: string | null;
  to: string | null;
  by: readonly GroupKey[];
  /** Lines read, entries counted, entries outside the window, lines skipped (not JSON / not tokentap's). */
  lines: { read: number; entries: number; outside_window: number; not_json: number; not_tokentap: number };
  /** Groups before --top. */
  groups: number;
}

/** Column names of CSV and JSON rows: the --by keys, then the figures. */
export const columns = (by: readonly GroupKey[]): string[] => [...by, ...ROW_FIGURES];

function figures(r: UsageRow): (string | number | null)[] {
  return ROW_FIGURES.map((f) => r[f]);
}

/** A row as a flat JSON object: key values first, cost as a number. */
function jsonRow(by: readonly GroupKey[], r: UsageRow): Record<string, string | number | null> {
  const o: Record<string, string | number | null> = {};
  for (const k of by) o[k] = r.group[k] ?? null;
  for (const f of ROW_FIGURES) o[f] = f === 'cost' ? (r.cost === null ? null : Number(r.cost)) : r[f];
  return o;
}

export function formatJson(meta: ReportMeta, rows: UsageRow[], total: UsageRow): string {
  const doc = {
    from: meta.from,
    to: meta.to,
    group_by: meta.by,
    lines: meta.lines,
    groups: meta.groups,
    rows: rows.map((r) => jsonRow(meta.by, r)),
    total: jsonRow([], total),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * One CSV field: quoted when it holds a comma, quote or line break. A key value (a user id comes from a
 * request header, i.e. from a client) starting with = + - @ or a tab gets a leading ' so that a spreadsheet
 * shows it as text instead of running it as a formula.
 */
function csvField(v: string | number | null, isKey: boolean): string {
  if (v === null) return '';
  let s = String(v);
  if (isKey && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function formatCsv(by: readonly GroupKey[], rows: UsageRow[]): string {
  const lines = [columns(by).join(',')];
  for (const r of rows) {
    lines.push([...by.map((k) => csvField(r.group[k] ?? null, true)), ...figures(r).map((v) => csvField(v, false))].join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** Control characters (an ANSI escape in a user header) are shown as \xNN, never sent to the terminal. */
const printable = (s: string): string =>
  // eslint-disable-next-line no-control-regex
  s.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

const int = (n: number): string => n.toLocaleString('en-US');
const ms = (v: number | null): string => (v === null ? '-' : v < 1 ? v.toFixed(2) : v < 10_000 ? v.toFixed(1) : int(Math.round(v)));

/** Cost with 4 decimals; a positive sum below that shows as <0.0001 rather than 0.0000. */
function money(c: string | null): string {
  if (c === null) return '-';
  const n = Number(c);
  if (n > 0 && n < 0.00005) return '<0.0001';
  const [units, dec] = n.toFixed(4).split('.');
  return `${int(Number(units))}.${dec}`;
}

const TABLE_FIGURES = ['requests', 'errors', 'prompt', 'cached', 'completion', 'reasoning', 'cost', 'unpriced', 'ttft_p50', 'ttft_p95', 'e2e_p95'];

function tableCells(r: UsageRow): string[] {
  return [
    int(r.requests),
    int(r.errors),
    int(r.prompt_tokens),
    int(r.cached_tokens),
    int(r.completion_tokens),
    int(r.reasoning_tokens),
    money(r.cost),
    int(r.unpriced),
    ms(r.ttft_p50_ms),
    ms(r.ttft_p95_ms),
    ms(r.e2e_p95_ms),
  ];
}

/**
 * Key columns left-aligned, figures right-aligned, two spaces apart; a dashed rule under the header; with
 * --by, a `total` row (over every group, also those cut by --top) under a second rule. Latencies in ms.
 */
export function formatTable(by: readonly GroupKey[], rows: UsageRow[], total: UsageRow): string {
  const keyHeader = by.length === 0 ? [''] : [...by];
  const header = [...keyHeader, ...TABLE_FIGURES];
  const body = by.length === 0 ? [['total', ...tableCells(total)]] : rows.map((r) => [...by.map((k) => printable(r.group[k] ?? '-')), ...tableCells(r)]);
  const foot = by.length === 0 ? [] : [['total', ...by.slice(1).map(() => ''), ...tableCells(total)]];
  const all = [header, ...body, ...foot];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  const nKeys = keyHeader.length;
  const line = (cells: string[]) => cells.map((c, i) => (i < nKeys ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  const rule = line(widths.map((w) => '-'.repeat(w)));
  const out = [line(header), rule, ...body.map(line)];
  if (foot.length) out.push(rule, ...foot.map(line));
  return `${out.join('\n')}\n`;
}

export function formatReport(format: Format, meta: ReportMeta, rows: UsageRow[], total: UsageRow): string {
  if (format === 'json') return formatJson(meta, rows, total);
  if (format === 'csv') return formatCsv(meta.by, rows);
  return formatTable(meta.by, rows, total);
}
