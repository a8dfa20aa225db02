/** One request through the proxy: its labels, in-flight accounting, and recording it exactly once. */
import { accessLogEntry, type AccessLog } from '../log/access-log.js';
import { buildRecord, type MeterRecord } from '../meter/record.js';
import type { Metrics, Outcome } from '../metrics/metrics.js';
import type { ActiveEntry, ActiveList } from './active-list.js';
import type { Endpoint } from './endpoint.js';

export interface ExchangeSinks {
  metrics: Metrics;
  log: AccessLog;
  /** Exchanges not finished yet (shutdown waits for them). */
  active: ActiveList<Exchange>;
}

export interface ExchangeInit {
  t0: number;
  requestId: string;
  method: string;
  endpoint: Endpoint;
  model: string;
  stream: boolean;
}

export class Exchange implements ActiveEntry {
  readonly t0: number;
  readonly requestId: string;
  readonly method: string;
  readonly endpoint: Endpoint;
  readonly model: string;
  stream: boolean;
  private finished = false;
  /** This exchange's metric series (in-flight gauge, histograms, counters), bound once. */
  private readonly series;
  /** Set by the edge: aborts the upstream request and cuts the client response. */
  cutter: { cut(): void } | null = null;
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
    this.model = init.model;
    this.stream = init.stream;
    this.series = sinks.metrics.series(init.model, init.endpoint);
    this.series.inFlight.inc();
    sinks.active.add(this);
  }

  /** Ends the exchange from tokentap's side (shutdown grace over): recorded as stream_error. */
  abort(): void {
    this.cutOutcome = 'stream_error';
    this.cutter?.cut();
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /** Records the request once; later calls are ignored. */
  finish(outcome: Outcome, code: number, record: MeterRecord): void {
    if (this.finished) return;
    this.finished = true;
    this.series.inFlight.dec();
    this.sinks.active.delete(this);
    const finished = { model: this.model, endpoint: this.endpoint, stream: this.stream, code, outcome, record };
    this.sinks.metrics.record(finished, this.series);
    if (this.sinks.log.enabled) this.sinks.log.write(accessLogEntry(this.requestId, this.method, finished));
  }

  /** Finish with a timing-only record (no response body was metered). */
  finishPlain(outcome: Outcome, code: number, endAt = performance.now()): void {
    this.finish(outcome, code, buildRecord({ t0: this.t0, endAt, countTokens: false, stream: null, bodyUsage: null }));
  }
}
