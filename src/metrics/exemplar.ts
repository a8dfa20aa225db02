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

/**
 * The exemplar's label set, `request_id="…",trace_id="…"`, within MAX_EXEMPLAR_LABEL_CHARS: the trace id is
 * kept (it is what links to the trace), a request id that no longer fits beside it is left out (a client may
 * send ids of up to 200 characters). '' when nothing fits.
 */
export function exemplarLabelText(requestId: string, traceId: string | null): string {
  let budget = MAX_EXEMPLAR_LABEL_CHARS;
  let trace = '';
  if (traceId !== null && traceId !== '') {
    const cost = TRACE_ID.length + codePoints(traceId);
    if (cost <= budget) {
      trace = `${TRACE_ID}="${escapeLabelValue(traceId)}"`;
      budget -= cost;
    }
  }
  const id = requestId !== '' && REQUEST_ID.length + codePoints(requestId) <= budget ? `${REQUEST_ID}="${escapeLabelValue(requestId)}"` : '';
  return id === '' ? trace : trace === '' ? id : `${id},${trace}`;
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
  return ` # {${labels}} ${value} ${((performance.timeOrigin + at) / 1000).toFixed(3)}`;
}
