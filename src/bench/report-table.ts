/** Plain-text report: client-side and proxy-side figures side by side. Pure. */
import type { BenchResult } from './run.js';
import type { ProxySummary } from './proxy-side.js';
import type { Summary } from './stats.js';

export function fmt(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  if (a !== 0 && a < 1 && digits >= 1) return v.toFixed(Math.max(digits, 2));
  return v.toFixed(a >= 10_000 ? 0 : digits);
}

/** Renders rows as a left/right-aligned text table (first column left-aligned). */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const COLS = ['figure', 'side', 'count', 'mean', 'p50', 'p90', 'p95', 'p99', 'max'];

/** The figures both reports list, in order: label, client and proxy summaries, digits. */
export function reportFigures(r: BenchResult): [string, Summary, ProxySummary | undefined, number][] {
  const c = r.summary.client;
  const p = r.summary.proxy;
  return [
    ['TTFT (ms)', c.ttftMs, p?.ttftMs, 1],
    ['TTFC (ms)', c.ttfcMs, p?.ttfcMs, 1],
    ['ITL (ms)', c.itlMs, p?.itlMs, 2],
    ['TPOT (ms)', c.tpotMs, p?.tpotMs, 2],
    ['E2E (ms)', c.e2eMs, p?.e2eMs, 1],
    ['prompt tokens', c.promptTokens, p?.promptTokens, 0],
    ['completion tokens', c.completionTokens, p?.completionTokens, 0],
  ];
}

function clientRow(label: string, s: Summary, digits: number): string[] {
  return [label, 'client', String(s.count), fmt(s.mean, digits), fmt(s.p50, digits), fmt(s.p90, digits), fmt(s.p95, digits), fmt(s.p99, digits), fmt(s.max, digits)];
}

function proxyRow(s: ProxySummary, digits: number): string[] {
  return ['', 'proxy', String(s.count), fmt(s.mean, digits), fmt(s.p50, digits), fmt(s.p90, digits), fmt(s.p95, digits), fmt(s.p99, digits), '-'];
}

/** The full report for a terminal or a log. */
export function renderReport(r: BenchResult): string {
  const s = r.summary;
  const p = s.proxy;
  const out: string[] = [];
  const cfg = r.config;
  const shape = cfg.rate !== null ? `open loop ${cfg.rate} req/s${cfg.concurrency !== null ? ` (max ${cfg.concurrency} in flight)` : ''}` : `closed loop, concurrency ${cfg.concurrency}`;
  out.push(`tokentap bench ${r.runId} — ${String(cfg.target)} model=${String(cfg.model)} endpoint=${String(cfg.endpoint)} stream=${String(cfg.stream)}`);
  out.push(`${shape}; prompt tokens ${String(cfg.promptTokens)}, max tokens ${String(cfg.maxTokens)}`);
  out.push('');
  const rows: string[][] = [];
  for (const [label, cs, ps, digits] of reportFigures(r)) {
    rows.push(clientRow(label, cs, digits));
    if (ps) rows.push(proxyRow(ps, digits));
  }
  out.push(textTable(COLS, rows));
  if (p) out.push('proxy side: quantiles interpolated within histogram buckets; means exact; no max.');
  out.push('');
  out.push(
    `requests: ${s.requests} (${s.ok} ok, ${s.errors} errors, ${(s.errorRate * 100).toFixed(2)}%) in ${s.durationS.toFixed(2)} s` +
      (p ? `; proxy counted ${p.requests}` : ''),
  );
  out.push(
    `throughput: ${s.requestThroughput.toFixed(2)} req/s, ${s.outputTokenThroughput.toFixed(1)} output tok/s, ${s.totalTokenThroughput.toFixed(1)} total tok/s`,
  );
  out.push(`usage: ${s.usage.reported} reported by the server, ${s.usage.estimated} estimated from token events`);
  if (s.errors > 0) {
    out.push('errors:');
    for (const [k, n] of Object.entries(s.errorBreakdown).sort((a, b) => b[1] - a[1])) out.push(`  ${k.padEnd(24)} ${n}`);
  }
  if (p) {
    const codes = Object.entries(p.byCode).map(([k, v]) => `${k}=${v}`).join(' ');
    const outcomes = Object.entries(p.byOutcome).map(([k, v]) => `${k}=${v}`).join(' ');
    out.push(`proxy (${p.metricsUrl}, endpoint=${p.endpointLabel}): codes ${codes || '-'}; outcomes ${outcomes || '-'}`);
  } else if (s.proxyError) {
    out.push(`proxy side unavailable: ${s.proxyError}`);
  }
  if (s.join) {
    const j = s.join;
    out.push('');
    out.push(`client − proxy, joined by x-request-id with ${j.file}: ${j.matched} matched, ${j.unmatchedClient} not in the log`);
    const jr = (label: string, d: Summary): string[] => [label, 'diff', String(d.count), fmt(d.mean, 2), fmt(d.p50, 2), fmt(d.p90, 2), fmt(d.p95, 2), fmt(d.p99, 2), fmt(d.max, 2)];
    out.push(textTable(COLS, [jr('TTFT Δ (ms)', j.ttftDiffMs), jr('E2E Δ (ms)', j.e2eDiffMs)]));
    out.push('(network between client and proxy + client overhead)');
  }
  return out.join('\n');
}
