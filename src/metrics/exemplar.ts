/**
 * Exemplars in the OpenMetrics text format: which labels an exemplar carries, and how it is written after a
 * histogram bucket's sample. Pure: strings in, a string out; the histogram stores the parts (fast-histogram.ts).
 */
import { escapeLabelValue } from './label-sets.js';

/**
 * OpenMetrics 1.0: "The combined length of the label names and values of an Exemplar's LabelSet MUST NOT
 * exceed 128 UTF-8 character code points." Prometheus rejects the whole scrape otherwise.
 */
export const MAX_EXEMPLAR_LABEL_CHARS = 128;
const REQUEST_ID = 'request_id';
const TRACE_ID = 'trace_id';

/** Code points of `s` (a surrogate pair is one). Request ids are ASCII (acceptableRequestId), so usually its length. */
export function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** The longest request id that fits in an exemplar without a trace id (118 code points). */
export const MAX_REQUEST_ID_ALONE = MAX_EXEMPLAR_LABEL_CHARS - REQUEST_ID.length;

const FITS_ID = 1;
const FITS_TRACE = 2;

/** Which of the two labels fit within MAX_EXEMPLAR_LABEL_CHARS (FITS_ID, FITS_TRACE): the trace id first. */
function fitting(requestId: string, traceId: string | null): number {
  let budget = MAX_EXEMPLAR_LABEL_CHARS;
  let fits = 0;
  if (traceId !== null && traceId !== '') {
    const cost = TRACE_ID.length + codePoints(traceId);
    if (cost <= budget) {
      fits |= FITS_TRACE;
      budget -= cost;
    }
  }
  if (requestId !== '' && REQUEST_ID.length + codePoints(requestId) <= budget) fits |= FITS_ID;
  return fits;
}

/**
 * The exemplar's label set, `request_id="…",trace_id="…"`, within MAX_EXEMPLAR_LABEL_CHARS: the trace id is
 * kept (it is what links to the trace), a request id that no longer fits beside it is left out (a client may
 * send ids of up to 200 characters). '' when nothing fits.
 */
export function exemplarLabelText(requestId: string, traceId: string | null): string {
  const fits = fitting(requestId, traceId);
  const trace = fits & FITS_TRACE ? `${TRACE_ID}="${escapeLabelValue(traceId!)}"` : '';
  const id = fits & FITS_ID ? `${REQUEST_ID}="${escapeLabelValue(requestId)}"` : '';
  return id === '' ? trace : trace === '' ? id : `${id},${trace}`;
}

/** The same label set as an object (request_id, then trace_id), as prom-client writes an exemplar's
 * `labelSet` (with the same escaping): the --workers primary's render (cluster-metrics.ts). */
export function exemplarLabels(requestId: string, traceId: string | null): Record<string, string> {
  const fits = fitting(requestId, traceId);
  const labels: Record<string, string> = {};
  if (fits & FITS_ID) labels[REQUEST_ID] = requestId;
  if (fits & FITS_TRACE) labels[TRACE_ID] = traceId!;
  return labels;
}

/**
 * Would an observation by this request have an exemplar label at all? Only a request id of more than
 * MAX_REQUEST_ID_ALONE code points without a trace id has none: the bucket then keeps its previous exemplar,
 * more use to someone following a spike than none. (The cheap length test comes first: the hot path.)
 */
export function hasExemplarLabels(requestId: string, traceId: string | null): boolean {
  return (traceId !== null && traceId !== '') || requestId.length <= MAX_REQUEST_ID_ALONE || codePoints(requestId) <= MAX_REQUEST_ID_ALONE;
}

/**
 * ` # {labels} value timestamp`, appended to a bucket's sample line. `at`: when it was observed, a
 * performance.now() reading (the one the hot path already made); the timestamp is in seconds since the epoch,
 * to the millisecond, as OpenMetrics writes them: performance.timeOrigin + `at`, the clock OpenTelemetry JS
 * stamps its spans with, so an exemplar and its request's span agree.
 */
export function exemplarSuffix(requestId: string, traceId: string | null, value: number, at: number): string {
  const labels = exemplarLabelText(requestId, traceId);
  if (labels === '') return '';
  return ` # {${labels}} ${value} ${exemplarTimestamp(at)}`;
}

/** An exemplar's timestamp as written: seconds since the epoch, to the millisecond, of a performance.now()
 * reading `at` (see exemplarSuffix). */
export function exemplarTimestamp(at: number): string {
  return ((performance.timeOrigin + at) / 1000).toFixed(3);
}

/**
 * A bucket's exemplar as prom-client carries one on a histogram bucket's value (`exemplar` beside `value`, the
 * shape its own Histogram reports and its OpenMetrics render writes): what a --workers worker reports to the
 * primary, which keeps the newest per bucket over all workers (cluster-metrics.ts).
 */
export interface BucketExemplar {
  labelSet: Record<string, string>;
  value: number;
  /** exemplarTimestamp: seconds since the epoch, to the millisecond. */
  timestamp: string;
}

/** The exemplar of an observation as a BucketExemplar; undefined when no label fits (as exemplarSuffix's ''). */
export function bucketExemplar(requestId: string, traceId: string | null, value: number, at: number): BucketExemplar | undefined {
  const labelSet = exemplarLabels(requestId, traceId);
  if (labelSet.request_id === undefined && labelSet.trace_id === undefined) return undefined;
  return { labelSet, value, timestamp: exemplarTimestamp(at) };
}
