/** Plain-text report: client-side and proxy-side figures side by side. Pure. */
import { codeInWords } from './net-errors.js';
import type { BenchResult } from './run.js';
import type { ProxySide, ProxySummary, QuantileBucket } from './proxy-side.js';
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

/** A bucket bound, without float noise (0.1 s × 1000 = 100.00000000000001 ms). */
export const fmtBound = (v: number): string => String(Number(v.toPrecision(6)));

/**
 * A proxy-side quantile: as is when exact (from the access log); from /metrics, approximate, with the bucket it
 * was interpolated in: `≈175.0 (100–250)`, or `>5000 (+Inf bucket)` when it lies beyond the last bound.
 */
export function fmtProxyQuantile(v: number | null, bucket: QuantileBucket | null | undefined, digits: number): string {
  if (v === null || bucket === undefined) return fmt(v, digits);
  if (bucket === null) return fmt(v, digits);
  if (bucket.upper === null) return `>${fmtBound(bucket.lower)} (+Inf bucket)`;
  return `≈${fmt(v, digits)} (${fmtBound(bucket.lower)}–${fmtBound(bucket.upper)})`;
}

/** The proxy row's cells after the label and side: count, mean, p50, p90, p95, p99, max. */
export function proxyCells(s: ProxySummary, digits: number): string[] {
  const b = s.buckets;
  return [
    String(s.count),
    fmt(s.mean, digits),
    fmtProxyQuantile(s.p50, b?.p50, digits),
    fmtProxyQuantile(s.p90, b?.p90, digits),
    fmtProxyQuantile(s.p95, b?.p95, digits),
    fmtProxyQuantile(s.p99, b?.p99, digits),
    fmt(s.max, digits),
  ];
}

function proxyRow(s: ProxySummary, digits: number): string[] {
  return ['', 'proxy', ...proxyCells(s, digits)];
}

/** Where the proxy rows come from and how exact they are, in one or two sentences. */
export function proxyNote(r: BenchResult): string | null {
  const p = r.summary.proxy;
  if (!p) return null;
  const figures = reportFigures(r).filter(([, , ps]) => ps !== undefined && ps.count > 0);
  const exact = figures.filter(([, , ps]) => ps!.source === 'log').map(([label]) => label.replace(/ \(ms\)$/, ''));
  const approx = figures.filter(([, , ps]) => ps!.source === 'metrics').map(([label]) => label.replace(/ \(ms\)$/, ''));
  const parts: string[] = [];
  if (exact.length > 0) parts.push(`${exact.join(', ')}: exact, from ${p.logFile} (the joined requests)`);
  if (approx.length > 0) {
    parts.push(
      `${approx.join(', ')}: from ${p.metricsUrl}, quantiles ≈ interpolated within tokentap's histogram buckets ` +
        '(the bucket in parentheses: the true value lies in it), means exact, no max',
    );
  }
  return parts.length > 0 ? `proxy side — ${parts.join('; ')}.` : null;
}

/** `proxy (http://…/metrics, endpoint=chat_completions)` or `proxy (access log x.log, …)`. */
export function proxySource(p: ProxySide): string {
  return [p.metricsUrl, p.logFile ? `access log ${p.logFile}` : null, `endpoint=${p.endpointLabel}`].filter(Boolean).join(', ');
}

/** An error category for people: `UND_ERR_SOCKET (the server closed the connection)`. */
export function errorLabel(category: string): string {
  const words = codeInWords(category);
  return words ? `${category} (${words})` : category;
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
  const note = proxyNote(r);
  if (note) out.push(note);
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
    for (const [k, n] of Object.entries(s.errorBreakdown).sort((a, b) => b[1] - a[1])) {
      const example = r.records.find((x) => !x.ok && (x.error ?? 'error') === k)?.errorMessage;
      out.push(`  ${String(n).padStart(6)}  ${errorLabel(k)}${example ? `  e.g. ${example.replace(/\s+/g, ' ').slice(0, 200)}` : ''}`);
    }
  }
  if (p) {
    const codes = Object.entries(p.byCode).map(([k, v]) => `${k}=${v}`).join(' ');
    const outcomes = Object.entries(p.byOutcome).map(([k, v]) => `${k}=${v}`).join(' ');
    out.push(`proxy (${proxySource(p)}): codes ${codes || '-'}; outcomes ${outcomes || '-'}`);
  } else if (s.proxyError) {
    out.push(`proxy side not shown: ${s.proxyError}`);
  }
  for (const w of s.warnings) out.push(`warning: ${w}`);
  if (s.join && s.join.matched > 0) {
    const j = s.join;
    out.push('');
    out.push(`client − proxy, joined by x-request-id with ${j.file}: ${j.matched} matched, ${j.unmatchedClient} not in the log`);
    const jr = (label: string, d: Summary): string[] => [label, 'diff', String(d.count), fmt(d.mean, 2), fmt(d.p50, 2), fmt(d.p90, 2), fmt(d.p95, 2), fmt(d.p99, 2), fmt(d.max, 2)];
    out.push(textTable(COLS, [jr('TTFT Δ (ms)', j.ttftDiffMs), jr('E2E Δ (ms)', j.e2eDiffMs)]));
    out.push('(network between client and proxy + client overhead)');
  }
  return out.join('\n');
}
