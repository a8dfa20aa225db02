/**
 * What the proxy sees of tracing: no OpenTelemetry type here, so the proxy's modules import nothing of the SDK
 * (type imports only) and tracing off is one null check per request.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { FinishedRequest } from '../metrics/metrics.js';
import type { ExchangeInit } from '../proxy/exchange.js';

/** What a request's span starts with (all known when the exchange is made, before anything is forwarded). */
export interface SpanStart extends ExchangeInit {
  /** The request target as received (origin-form `/v1/…?…`, or absolute-form): the span keeps its path only. */
  url: string;
  /** The client's headers: only `traceparent` and `tracestate` are read. */
  headers: IncomingHttpHeaders;
}

/** One request's span. */
export interface RequestSpan {
  /** The trace id when the span is sampled (exported), else null: Exchange.traceId. */
  readonly traceId: string | null;
  /** W3C `traceparent` for the upstream request: this span as the parent (sampled flag off when not sampled). */
  readonly traceparent: string | undefined;
  /** The client's `tracestate`, carried on. */
  readonly tracestate: string | undefined;
  /** Ends the span at t0 + record.e2eMs with what the request ended with. Called once (Exchange.finish). */
  end(finished: FinishedRequest, t0: number): void;
}

/** Tracing on: one span per request, exported in the background. */
export interface Tracing {
  start(init: SpanStart): RequestSpan;
  /** Exports what is queued, waiting at most `timeoutMs`; then stops. */
  shutdown(timeoutMs: number): Promise<void>;
}
