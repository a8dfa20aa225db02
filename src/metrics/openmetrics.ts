/**
 * The OpenMetrics 1.0 text format beside the classic one: which one a scrape asks for (its Accept header), and
 * prom-client's registry rendered in it without disturbing the classic render.
 */
import client, { type Metric, type OpenMetricsContentType, type Registry } from 'prom-client';
import { parseAccept } from 'hono/utils/accept';

export const OPENMETRICS_CONTENT_TYPE = client.Registry.OPENMETRICS_CONTENT_TYPE;

export type ScrapeFormat = 'classic' | 'openmetrics';

/** OpenMetrics versions whose text we write: 1.0.0, and 0.0.1, what Prometheus calls the same format's draft
 * and parses with the same parser. */
const OPENMETRICS_VERSIONS = new Set(['1.0.0', '0.0.1']);

/**
 * The format for a scrape's `Accept` header. OpenMetrics only when the header names
 * `application/openmetrics-text` (in a version we write, or none) with a q-value above 0 and at least the
 * classic format's: that is the most specific of `text/plain`, `text/*`, `*\/*` (RFC 9110). Everything else
 * (no header, `*\/*`, `text/plain`, OpenMetrics at q=0 or below text/plain) gets the classic format, the
 * default, whose bytes do not change. Prometheus asks for OpenMetrics first:
 * `application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*\/*;q=0.1`.
 */
export function scrapeFormat(accept: string | undefined): ScrapeFormat {
  if (accept === undefined || accept === '') return 'classic';
  let openMetrics = 0;
  let plain = -1;
  let textAny = -1;
  let any = -1;
  for (const { type, params, q } of parseAccept(accept)) {
    const t = type.toLowerCase();
    if (t === 'application/openmetrics-text') {
      const version = params.version;
      if (version === undefined || OPENMETRICS_VERSIONS.has(version)) openMetrics = Math.max(openMetrics, q);
    } else if (t === 'text/plain') plain = Math.max(plain, q);
    else if (t === 'text/*') textAny = Math.max(textAny, q);
    else if (t === '*/*' || t === '*') any = Math.max(any, q);
  }
  const classic = plain >= 0 ? plain : textAny >= 0 ? textAny : Math.max(any, 0);
  return openMetrics > 0 && openMetrics >= classic ? 'openmetrics' : 'classic';
}

/**
 * prom-client's metrics of `register` in the OpenMetrics format, without its `# EOF` (the caller appends the
 * fast metrics, then `# EOF`): one metric after the other, no blank lines, counters as families without
 * `_total` and samples with it. prom-client's own OpenMetrics mode does that by renaming every counter in place
 * (`metric.name` loses `_total` for good), which would change the classic render of the same metric objects;
 * here a counter is lent to a second registry under its family name instead, the metric itself untouched.
 */
export async function promClientOpenMetrics(register: Registry): Promise<string> {
  const om = new client.Registry<OpenMetricsContentType>();
  om.setContentType(OPENMETRICS_CONTENT_TYPE);
  // getMetricsAsArray() is typed as plain objects (and `type` as an enum), but holds the metrics themselves.
  for (const metric of register.getMetricsAsArray() as unknown as RegisteredMetric[]) {
    om.registerMetric((metric.type === 'counter' ? asFamily(metric) : metric) as unknown as Metric);
  }
  const text = await om.metrics();
  return text.endsWith('# EOF\n') ? text.slice(0, -'# EOF\n'.length) : text;
}

/** What a registry holds, as far as rendering goes. */
interface RegisteredMetric {
  name: string;
  help: string;
  type: string;
  get(): Promise<{ name: string }>;
}

/** A view of a counter under its OpenMetrics family name (the name without `_total`). */
function asFamily(counter: RegisteredMetric): RegisteredMetric {
  const name = counter.name.replace(/_total$/, '');
  return { name, help: counter.help, type: counter.type, get: async () => ({ ...(await counter.get()), name }) };
}
