/** One request through the proxy: its labels, in-flight accounting, and recording it exactly once. */
import { accessLogEntry, type AccessLog } from '../log/access-log.js';
import { buildRecord, type MeterRecord } from '../meter/record.js';
import type { Metrics, Outcome } from '../metrics/metrics.js';
import type { ModelLabeler } from '../metrics/model-label.js';
import type { RequestSpan } from '../trace/types.js';
import type { ActiveEntry, ActiveList } from './active-list.js';
import type { Endpoint } from './endpoint.js';

export interface ExchangeSinks {
  metrics: Metrics;
  log: AccessLog;
  /** Exchanges not finished yet (shutdown waits for them). */
  active: ActiveList<Exchange>;
  /** The `model` label table (a name takes a slot once the upstream answered it with a 2xx). */
  models: ModelLabeler;
}

export interface ExchangeInit {
  t0: number;
  requestId: string;
  method: string;
  endpoint: Endpoint;
  /** The model the request names (undefined: none). */
  model: string | undefined;
  stream: boolean;
}

/** Reports an error of tokentap's own without taking the process down (once per message kind is enough). */
export function reportInternalError(where: string, err: unknown): void {
  console.error(`tokentap: internal error (${where}): ${(err as Error)?.stack ?? String(err)}`);
}

export class Exchange implements ActiveEntry {
  readonly t0: number;
  readonly requestId: string;
  readonly method: string;
  readonly endpoint: Endpoint;
  /** The `model` label (may change once, from `other` to the name, when the upstream answers 2xx). */
  model: string;
  stream: boolean;
  private finished = false;
  /** The requested name while it may still be admitted to the label table. */
  private pendingModel: string | undefined;
  /** This exchange's metric series (in-flight gauge, histograms, counters), bound once. */
  private series;
  /** Set by the edge: aborts the upstream request and cuts the client response. */
  cutter: { cut(): void } | null = null;
  /** The upstream's own x-request-id, for the access log (acceptableRequestId's rules). */
  upstreamRequestId: string | null = null;
  /** The trace id (32 hex digits) of this request's span when tracing is on and the request is sampled, else
   * null: set by tracing (src/trace/), read by the exemplars and the access log. */
  traceId: string | null = null;
  /** This request's span when tracing is on (src/trace/), ended when the request is recorded. */
  span: RequestSpan | null = null;
  /** Set when tokentap itself cut the exchange (shutdown): how it is then recorded. */
  cutOutcome: Outcome | null = null;
  /** Links of the active list (ActiveList). */
  activePrev: Exchange | null = null;
  activeNext: Exchange | null = null;

  constructor(private readonly sinks: ExchangeSinks, init: ExchangeInit) {
    this.t0 = init.t0;
    this.requestId = init.requestId;
    this.method = init.method;
    this.endpoint = init.endpoint;
    this.model = sinks.models.label(init.model);
    this.pendingModel = sinks.models.mayAdmit(init.model) ? init.model : undefined;
    this.stream = init.stream;
    this.series = sinks.metrics.series(this.model, init.endpoint);
    this.series.inFlight.inc();
    sinks.active.add(this);
  }

  /** The upstream answered with `status`: a 2xx admits the requested name to the label table. */
  answered(status: number): void {
    const name = this.pendingModel;
    if (name === undefined || status < 200 || status >= 300 || this.finished) return;
    this.pendingModel = undefined;
    const label = this.sinks.models.admit(name);
    if (label === this.model) return;
    this.series.inFlight.dec();
    this.model = label;
    this.series = this.sinks.metrics.series(label, this.endpoint);
    this.series.inFlight.inc();
  }

  /**
   * Live metering, as a stream's token events pass: TTFT (the first, `gapMs` null) or one ITL gap, and one
   * completion token when tokens count for this request (the rest of the reported usage is added at the end).
   */
  observeTokenEvent(now: number, gapMs: number | null, countToken: boolean): void {
    if (this.finished) return;
    const s = this.series;
    if (gapMs === null) s.ttft.observe((now - this.t0) / 1000);
    else s.itl.observe(gapMs / 1000);
    if (countToken) s.completion.inc(1);
  }

  /** Live metering: the first event with content (time to first content). */
  observeFirstContent(now: number): void {
    if (!this.finished) this.series.ttfc.observe((now - this.t0) / 1000);
  }

  /** Ends the exchange from tokentap's side (shutdown grace over): recorded as stream_error. */
  abort(): void {
    this.cutOutcome = 'stream_error';
    this.cutter?.cut();
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /**
   * Records the request once; later calls are ignored. The accounting that shutdown and the in-flight gauge
   * depend on happens first, and a failure while recording never escapes (it is reported instead).
   */
  finish(outcome: Outcome, code: number, record: MeterRecord): void {
    if (this.finished) return;
    this.finished = true;
    this.series.inFlight.dec();
    this.sinks.active.delete(this);
    try {
      const finished = { model: this.model, endpoint: this.endpoint, stream: this.stream, code, outcome, record, upstreamRequestId: this.upstreamRequestId };
      this.sinks.metrics.record(finished, this.series);
      if (this.sinks.log.enabled) this.sinks.log.write(accessLogEntry(this.requestId, this.method, finished));
      if (this.span !== null) this.span.end(finished, this.t0);
    } catch (err) {
      reportInternalError('recording a request', err);
    }
  }

  /** Finish with a timing-only record (no response body was metered). */
  finishPlain(outcome: Outcome, code: number, endAt = performance.now()): void {
    this.finish(outcome, code, buildRecord({ t0: this.t0, endAt, countTokens: false, stream: null, bodyUsage: null }));
  }
}
