/**
 * The HTML report: TTFT, E2E, ITL and TPOT distributions and latency over time, whose legend sits in the top
 * margin, above the plot area, so it covers no data point (it sat inside the plot, over the highest points).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/bench/report-html.js';
import { runBench } from '../../src/bench/run.js';
import { histogramSvg, M, scatterSvg, SIZE } from '../../src/bench/svg.js';
import type { RunningTokentap } from '../../src/server.js';
import { startSimulator } from '../../src/sim/server.js';
import { startTap } from '../helpers/tap.js';

let sim: Awaited<ReturnType<typeof startSimulator>>;
let tap: RunningTokentap;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, ttftMs: 20, itlMs: 3, outputTokens: 8 });
  tap = await startTap(sim.url);
});

afterAll(async () => {
  await tap?.close();
  await sim?.close();
});

/** The <svg> whose aria-label is `label`. */
function svgNamed(page: string, label: string): string {
  const m = new RegExp(`<svg [^>]*aria-label="${label.replace(/[()]/g, '\\$&')}"[\\s\\S]*?</svg>`).exec(page);
  expect(m, `no <svg aria-label="${label}">`).not.toBeNull();
  return m![0];
}

const circles = (svg: string) =>
  [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)" r="([\d.]+)"/g)].map((m) => ({ cx: Number(m[1]), cy: Number(m[2]), r: Number(m[3]) }));

describe('renderHtml', () => {
  it('plots the ITL and TPOT distributions beside TTFT and E2E', async () => {
    const r = await runBench({ target: `${tap.proxyUrl}/v1`, model: 'm', concurrency: 2, requests: 6, maxTokens: 8, metricsUrl: `${tap.metricsUrl}/metrics` });
    const page = renderHtml(r);
    const bars = (svg: string) => (svg.match(/<rect /g) ?? []).length;
    expect(bars(svgNamed(page, 'TTFT distribution'))).toBeGreaterThan(0);
    expect(bars(svgNamed(page, 'E2E distribution'))).toBeGreaterThan(0);
    const itl = svgNamed(page, 'ITL distribution (gaps between token events)');
    expect(bars(itl)).toBeGreaterThan(0);
    expect(itl).toContain('>gaps</text>'); // its y axis counts gaps, not requests
    expect(itl).toContain('>ITL (ms)</text>');
    expect(bars(svgNamed(page, 'TPOT distribution'))).toBeGreaterThan(0);
    expect(page).toContain('≈'); // the proxy rows from /metrics are marked approximate
    expect(page).not.toMatch(/<script|<link|src="http/);
  });

  it('says when there is no ITL/TPOT to plot (non-streaming)', async () => {
    const r = await runBench({ target: `${tap.proxyUrl}/v1`, model: 'm', stream: false, requests: 2, maxTokens: 4, metricsUrl: null });
    const page = renderHtml(r);
    expect(page).toContain('ITL distribution (gaps between token events): no data');
    expect(page).toContain('TPOT distribution: no data');
  });
});

describe('scatterSvg legend', () => {
  it('sits above the plot area: no data point under it, even at the top right', () => {
    const series = [
      { name: 'E2E', cls: 's1', points: [[0, 10], [5, 400], [10, 1000]] as const },
      { name: 'TTFT', cls: 's0', points: [[10, 990], [9.9, 1000], [0, 50]] as const },
      { name: 'error', cls: 's2', points: [[10, 0]] as const },
    ];
    const svg = scatterSvg(series, 'Latency over time', 'x', 'ms');
    const legend = [...svg.matchAll(/<g class="legend">([\s\S]*?)<\/g>/g)].map((m) => m[1]);
    expect(legend).toHaveLength(3);
    const legendDots = legend.flatMap(circles);
    const dataDots = circles(svg.replace(/<g class="legend">[\s\S]*?<\/g>/g, ''));
    expect(dataDots).toHaveLength(7);
    for (const d of legendDots) expect(d.cy + d.r).toBeLessThanOrEqual(M.t);
    for (const d of dataDots) expect(d.cy - d.r).toBeGreaterThanOrEqual(M.t);
    // the legend's text lies in the top margin too, below the title, and inside the picture
    for (const m of svg.matchAll(/<g class="legend">[\s\S]*?<text x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</g)) {
      const [x, y, name] = [Number(m[1]), Number(m[2]), m[3]];
      expect(y).toBeLessThan(M.t);
      expect(y - 10).toBeGreaterThan(16); // below the title's baseline
      expect(x + name.length * 6).toBeLessThanOrEqual(SIZE.W);
    }
    // items do not overlap each other: left to right, each starts after the previous one's text
    const xs = legendDots.map((d) => d.cx);
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
    for (let i = 1; i < xs.length; i++) expect(xs[i] - xs[i - 1]).toBeGreaterThan(series[i - 1].name.length * 6 + 8);
  });
});

describe('histogramSvg', () => {
  it('with clipAbove, a few outliers do not squeeze the rest into one bin, and are counted', () => {
    const values = [...Array.from({ length: 999 }, (_, i) => 10 + (i % 10)), 5000];
    const svg = histogramSvg(values, 'ITL distribution', 'ITL (ms)', 40, 'gaps', 0.995);
    expect(svg).toContain('1 above 19 not shown');
    expect((svg.match(/<rect /g) ?? []).length).toBeGreaterThanOrEqual(10); // the 10 distinct values in their own bins
    const unclipped = histogramSvg(values, 'ITL distribution', 'ITL (ms)', 40, 'gaps');
    expect((unclipped.match(/<rect /g) ?? []).length).toBe(2);
  });
});
