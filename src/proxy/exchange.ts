/** One request through the proxy: its labels, in-flight accounting, and recording it exactly once. */
import type { IncomingHttpHeaders } from 'node:http';
import { accessLogEntry, type AccessLog } from '../log/access-log.js';
import { buildRecord, type MeterRecord } from '../meter/record.js';
import type { Metrics, Outcome } from '../metrics/metrics.js';
import { UNKNOWN_MODEL, type ModelLabeler } from '../metrics/model-label.js';
import type { Attribution } from '../usage/attribution.js';
import { requestCost } from '../usage/cost.js';
import type { PriceTable } from '../usage/prices.js';
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
  /** Users and key ids (docs/attribution.md); null when off. Absent = null. */
  attribution?: Attribution | null;
  /** The price table; null when `prices` is empty. Absent = null. */
  prices?: PriceTable | null;
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
  /** The model name the request names: prices are looked up by it, not by the bounded label. */
  private readonly requestedModel: string | undefined;
  /** The user as the access log shows it (null: none found, or attribution off). Set by `attribute`. */
  user: string | null = null;
  /** The id of the request's API key (null: none, or no key_id_secret). Set by `attribute`. */
  keyId: string | null = null;
  /** The `user` label (bounded like `model`, admitted on a 2xx answer). */
  private userLabel = UNKNOWN_MODEL;
  /** The user while it may still be admitted to the `user` label table. */
  private pendingUser: string | undefined;
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
    this.requestedModel = init.model;
    this.model = sinks.models.label(init.model);
    this.pendingModel = sinks.models.mayAdmit(init.model) ? init.model : undefined;
    this.stream = init.stream;
    this.series = sinks.metrics.series(this.model, init.endpoint);
    this.series.inFlight.inc();
    sinks.active.add(this);
  }

  /**
   * Finds the request's user and key id (attribution on: `sinks.attribution` set). `bodyUser`: the body's
   * top-level `user` string when the body scan read it.
   */
  attribute(headers: IncomingHttpHeaders, bodyUser: string | undefined): void {
    const a = this.sinks.attribution;
    if (a == null) return;
    this.keyId = a.keyId(headers);
    const user = a.user(headers, bodyUser, this.keyId);
    this.user = user;
    if (a.users === null) return;
    this.userLabel = a.users.label(user ?? undefined);
    this.pendingUser = a.users.mayAdmit(user) ? user : undefined;
  }

  /** The upstream answered with `status`: a 2xx admits the requested name (and user) to the label tables. */
  answered(status: number): void {
    const user = this.pendingUser;
    if (user !== undefined && status >= 200 && status < 300 && !this.finished) {
      this.pendingUser = undefined;
      this.userLabel = this.sinks.attribution!.users!.admit(user);
    }
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
    if (gapMs === null) s.ttft.observeWithExemplar((now - this.t0) / 1000, this.requestId, this.traceId, now);
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
      const prices = this.sinks.prices;
      let cost: number | null = null;
      if (prices != null && record.usage !== null) {
        const price = prices.lookup(this.requestedModel);
        if (price !== null) cost = requestCost(price, record);
      }
      const finished = {
        model: this.model,
        endpoint: this.endpoint,
        stream: this.stream,
        code,
        outcome,
        record,
        upstreamRequestId: this.upstreamRequestId,
        user: this.user,
        userLabel: this.userLabel,
        keyId: this.keyId,
        cost,
        traceId: this.traceId,
      };
      this.sinks.metrics.record(finished, this.series, this);
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
