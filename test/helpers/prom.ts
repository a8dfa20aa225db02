/** Reads values out of Prometheus text exposition, for asserting metrics by value (the bench's parser). */
import { parseExposition, sumSeries, type Labels } from '../../src/bench/prom-scrape.js';

export { parseExposition, type Labels };

/** Sum of the samples named `name` whose labels include `match`. */
export function metricSum(text: string, name: string, match: Labels = {}): number {
  return sumSeries(parseExposition(text), name, (labels) => Object.entries(match).every(([k, v]) => labels[k] === v));
}

export async function scrape(metricsUrl: string): Promise<string> {
  const res = await fetch(`${metricsUrl}/metrics`);
  return res.text();
}
