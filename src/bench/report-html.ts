/** Self-contained HTML report: tables and inline-SVG plots; no script, no CDN, opens offline. */
import { errorLabel, fmt, proxyCells, proxyNote, reportFigures } from './report-table.js';
import type { BenchResult } from './run.js';
import type { ProxySummary } from './proxy-side.js';
import type { Summary } from './stats.js';
import { esc, histogramSvg, scatterSvg } from './svg.js';

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1400px;color:#1d2330;padding:0 16px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.meta{color:#5b6473}table{border-collapse:collapse;margin:4px 0 8px}
th,td{padding:3px 10px;text-align:right;border-bottom:1px solid #e3e6eb;font-variant-numeric:tabular-nums}
th:first-child,td:first-child,td.side{text-align:left}th{background:#f4f6f9}
tr.proxy td{color:#7a3e9d}.note{color:#5b6473;font-size:12px}.warn{color:#a61b1b;font-size:13px}
.plots{display:flex;flex-wrap:wrap;gap:12px}svg{background:#fff;border:1px solid #e3e6eb;border-radius:4px}
svg .t{font-size:13px;font-weight:600}svg .l{font-size:11px;fill:#5b6473}svg .k{font-size:10px;fill:#5b6473}
svg .ax{stroke:#8a93a3;stroke-width:1}svg .g{stroke:#eef0f3;stroke-width:1}svg .b{fill:#3c78d8}
svg .s0{fill:#3c78d8;fill-opacity:.7}svg .s1{fill:#e69138;fill-opacity:.6}svg .s2{fill:#cc0000}
`;

function row(label: string, side: string, s: Summary | ProxySummary, digits: number, cls = ''): string {
  const cells =
    'source' in s
      ? proxyCells(s, digits)
      : [String(s.count), fmt(s.mean, digits), fmt(s.p50, digits), fmt(s.p90, digits), fmt(s.p95, digits), fmt(s.p99, digits), fmt(s.max, digits)];
  return `<tr class="${cls}"><td>${esc(label)}</td><td class="side">${side}</td>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
}

const HEAD = '<tr><th>figure</th><th>side</th><th>count</th><th>mean</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th></tr>';

export function renderHtml(r: BenchResult): string {
  const s = r.summary;
  const p = s.proxy;
  const rows: string[] = [];
  for (const [label, cs, ps, digits] of reportFigures(r)) {
    rows.push(row(label, 'client', cs, digits));
    if (ps) rows.push(row('', 'proxy', ps, digits, 'proxy'));
  }

  const ok = r.records.filter((x) => x.ok);
  const values = (f: (x: (typeof ok)[number]) => number | null) => ok.map(f).filter((v): v is number => v !== null);
  const ttft = values((x) => x.ttftMs);
  const e2e = values((x) => x.e2eMs);
  const tpot = values((x) => x.tpotMs);
  const itl = ok.flatMap((x) => x.itlMs);
  const overTime = scatterSvg(
    [
      { name: 'E2E', cls: 's1', points: ok.filter((x) => x.e2eMs !== null).map((x) => [x.startMs / 1000, x.e2eMs as number] as const) },
      { name: 'TTFT', cls: 's0', points: ok.filter((x) => x.ttftMs !== null).map((x) => [x.startMs / 1000, x.ttftMs as number] as const) },
      { name: 'error', cls: 's2', points: r.records.filter((x) => !x.ok).map((x) => [x.startMs / 1000, x.e2eMs ?? 0] as const) },
    ],
    'Latency over time',
    'request start (s since run start)',
    'ms',
  );

  const errors = Object.entries(s.errorBreakdown)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => {
      const example = r.records.find((x) => !x.ok && (x.error ?? 'error') === k)?.errorMessage ?? '';
      return `<tr><td>${esc(errorLabel(k))}</td><td>${n}</td><td style="text-align:left">${esc(example.slice(0, 300))}</td></tr>`;
    })
    .join('');
  const cfg = Object.entries(r.config)
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td style="text-align:left">${esc(String(v))}</td></tr>`)
    .join('');
  let join = '';
  if (s.join && s.join.matched > 0) {
    const j = s.join;
    join =
      `<h2>Client − proxy (joined by x-request-id)</h2><p class="meta">${j.matched} matched, ${j.unmatchedClient} not in ${esc(j.file)}. ` +
      `The difference is the network between client and proxy plus the client's own cost.</p>` +
      `<table>${HEAD}${row('TTFT Δ (ms)', 'diff', j.ttftDiffMs, 2)}${row('E2E Δ (ms)', 'diff', j.e2eDiffMs, 2)}</table>`;
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>tokentap bench ${esc(r.runId)}</title><style>${STYLE}</style></head><body>
<h1>tokentap bench ${esc(r.runId)}</h1>
<p class="meta">${esc(String(r.config.target))} · model ${esc(String(r.config.model))} · ${esc(String(r.config.endpoint))} · stream ${esc(String(r.config.stream))} · started ${esc(r.startedAt)}</p>
<h2>Summary</h2>
<p>${s.requests} requests (${s.ok} ok, ${s.errors} errors, ${(s.errorRate * 100).toFixed(2)}%) in ${s.durationS.toFixed(2)} s ·
${s.requestThroughput.toFixed(2)} req/s · ${s.outputTokenThroughput.toFixed(1)} output tok/s · ${s.totalTokenThroughput.toFixed(1)} total tok/s${p ? ` · proxy counted ${p.requests}` : ''}</p>
<table>${HEAD}${rows.join('')}</table>
${p ? `<p class="note">${esc(proxyNote(r) ?? '')}</p>` : s.proxyError ? `<p class="note">Proxy side not shown: ${esc(s.proxyError)}</p>` : ''}
${s.warnings.map((w) => `<p class="warn">Warning: ${esc(w)}</p>`).join('\n')}
${join}
<h2>Plots</h2>
<div class="plots">
${histogramSvg(ttft, 'TTFT distribution', 'TTFT (ms)')}
${histogramSvg(e2e, 'E2E distribution', 'E2E (ms)')}
${histogramSvg(itl, 'ITL distribution (gaps between token events)', 'ITL (ms)', 40, 'gaps', 0.995)}
${histogramSvg(tpot, 'TPOT distribution', 'TPOT (ms)', 40, 'requests', 0.995)}
${overTime}
</div>
${errors ? `<h2>Errors</h2><table><tr><th>error</th><th>count</th><th style="text-align:left">example</th></tr>${errors}</table>` : ''}
<h2>Configuration</h2><table>${cfg}</table>
</body></html>
`;
}
