/** Minimal inline-SVG charts for the HTML report (histogram, scatter). Pure; no dependencies. */

export const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** About `n` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function minOf(v: readonly number[]): number {
  let m = Infinity;
  for (const x of v) if (x < m) m = x;
  return m;
}

function maxOf(v: readonly number[]): number {
  let m = -Infinity;
  for (const x of v) if (x > m) m = x;
  return m;
}

const W = 640;
const H = 270;
/** Margins around the plot area. The top one holds the title (y 16) and a scatter's legend (y 30): nothing
 * drawn there covers data. */
export const M = { l: 56, r: 16, t: 42, b: 40 };
export const SIZE = { W, H };
/** The legend's text baseline: between the title and the plot area. */
const LEGEND_Y = 32;

function frame(title: string, xLabel: string, yLabel: string, body: string, xTicks: string, yTicks: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">` +
    `<text x="${W / 2}" y="16" text-anchor="middle" class="t">${esc(title)}</text>` +
    `<line x1="${M.l}" y1="${H - M.b}" x2="${W - M.r}" y2="${H - M.b}" class="ax"/>` +
    `<line x1="${M.l}" y1="${M.t}" x2="${M.l}" y2="${H - M.b}" class="ax"/>` +
    xTicks +
    yTicks +
    body +
    `<text x="${(M.l + W - M.r) / 2}" y="${H - 6}" text-anchor="middle" class="l">${esc(xLabel)}</text>` +
    `<text transform="translate(14 ${(M.t + H - M.b) / 2}) rotate(-90)" text-anchor="middle" class="l">${esc(yLabel)}</text>` +
    `</svg>`
  );
}

interface Scale {
  lo: number;
  hi: number;
  px: (v: number) => number;
  ticks: number[];
}

function xScale(lo: number, hi: number): Scale {
  const ticks = niceTicks(lo, hi);
  const span = hi - lo || 1;
  return { lo, hi, ticks, px: (v) => M.l + ((v - lo) / span) * (W - M.l - M.r) };
}

function yScale(lo: number, hi: number): Scale {
  const ticks = niceTicks(lo, hi);
  const span = hi - lo || 1;
  return { lo, hi, ticks, px: (v) => H - M.b - ((v - lo) / span) * (H - M.t - M.b) };
}

const tickLabel = (v: number): string => (Math.abs(v) >= 1000 ? v.toFixed(0) : String(Number(v.toPrecision(4))));

function xTickSvg(s: Scale): string {
  return s.ticks
    .map((t) => `<line x1="${s.px(t).toFixed(1)}" y1="${H - M.b}" x2="${s.px(t).toFixed(1)}" y2="${H - M.b + 4}" class="ax"/><text x="${s.px(t).toFixed(1)}" y="${H - M.b + 15}" text-anchor="middle" class="k">${tickLabel(t)}</text>`)
    .join('');
}

function yTickSvg(s: Scale): string {
  return s.ticks
    .map((t) => `<line x1="${M.l}" y1="${s.px(t).toFixed(1)}" x2="${W - M.r}" y2="${s.px(t).toFixed(1)}" class="g"/><text x="${M.l - 4}" y="${(s.px(t) + 3).toFixed(1)}" text-anchor="end" class="k">${tickLabel(t)}</text>`)
    .join('');
}

/**
 * Histogram of `values` with `bins` equal-width bins. With `clipAbove` (a quantile, e.g. 0.99) the x axis ends
 * at that quantile, so a few outliers do not squeeze the rest into one bin; how many lie beyond is written
 * at the top right of the plot area.
 */
export function histogramSvg(values: readonly number[], title: string, xLabel: string, bins = 40, yLabel = 'requests', clipAbove?: number): string {
  if (values.length === 0) return `<p class="empty">${esc(title)}: no data</p>`;
  let lo = minOf(values);
  let hi = maxOf(values);
  let beyond = 0;
  if (clipAbove !== undefined && values.length > 1) {
    const sorted = Float64Array.from(values).sort();
    const cut = sorted[Math.min(sorted.length - 1, Math.ceil(clipAbove * (sorted.length - 1)))];
    if (cut < hi && cut > lo) {
      hi = cut;
      for (const v of values) if (v > cut) beyond++;
    }
  }
  if (hi === lo) {
    lo -= 0.5;
    hi += 0.5;
  }
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) if (v <= hi) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  const x = xScale(lo, hi);
  const y = yScale(0, maxOf(counts));
  const bars = counts
    .map((c, i) => {
      if (c === 0) return '';
      const x0 = x.px(lo + i * width);
      const x1 = x.px(lo + (i + 1) * width);
      const y0 = y.px(c);
      return `<rect x="${x0.toFixed(1)}" y="${y0.toFixed(1)}" width="${Math.max(0.5, x1 - x0 - 0.5).toFixed(1)}" height="${(H - M.b - y0).toFixed(1)}" class="b"><title>${tickLabel(lo + i * width)}–${tickLabel(lo + (i + 1) * width)}: ${c}</title></rect>`;
    })
    .join('');
  const note =
    beyond > 0
      ? `<text x="${W - M.r}" y="${M.t - 4}" text-anchor="end" class="k">${beyond} above ${tickLabel(hi)} not shown</text>`
      : '';
  return frame(title, xLabel, yLabel, bars + note, xTickSvg(x), yTickSvg(y));
}

export interface Series {
  name: string;
  cls: string;
  points: readonly (readonly [number, number])[];
}

/** Scatter plot of one or more series sharing axes; the legend in the top margin, right-aligned, above the data. */
export function scatterSvg(series: readonly Series[], title: string, xLabel: string, yLabel: string): string {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return `<p class="empty">${esc(title)}: no data</p>`;
  const x = xScale(Math.min(0, minOf(all.map((p) => p[0]))), maxOf(all.map((p) => p[0])));
  const y = yScale(0, maxOf(all.map((p) => p[1])) * 1.05);
  const dots = series
    .map((s) => s.points.map((p) => `<circle cx="${x.px(p[0]).toFixed(1)}" cy="${y.px(p[1]).toFixed(1)}" r="2" class="${s.cls}"/>`).join(''))
    .join('');
  // right to left from the right edge: a dot, its name, a gap
  const items: string[] = [];
  let right = W - M.r;
  for (const s of [...series].reverse()) {
    const textW = s.name.length * 6;
    const cx = right - textW - 10;
    items.unshift(
      `<g class="legend"><circle cx="${cx}" cy="${LEGEND_Y - 3}" r="4" class="${s.cls}"/><text x="${cx + 7}" y="${LEGEND_Y}" class="k">${esc(s.name)}</text></g>`,
    );
    right = cx - 14;
  }
  const legend = items.join('');
  return frame(title, xLabel, yLabel, dots + legend, xTickSvg(x), yTickSvg(y));
}
