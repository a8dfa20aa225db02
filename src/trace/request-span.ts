/**
 * One span per proxied request, after the OpenTelemetry GenAI and HTTP semantic conventions where they apply
 * (docs/tracing.md has the table). Never a prompt, a completion, a key or a header's value: the span holds
 * names, numbers and the request's path. Loaded only when tracing is on.
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  defaultTextMapGetter,
  defaultTextMapSetter,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { TraceState, type W3CTraceContextPropagator } from '@opentelemetry/core';
import type { FinishedRequest } from '../metrics/metrics.js';
import type { Endpoint } from '../proxy/endpoint.js';
import type { RequestSpan, SpanStart } from './types.js';

/** gen_ai.operation.name of each metered endpoint (`other` is plain HTTP: no GenAI attributes). */
export const OPERATION: Record<Endpoint, string | undefined> = {
  chat_completions: 'chat',
  responses: 'chat',
  completions: 'text_completion',
  embeddings: 'embeddings',
  other: undefined,
};

/** A model name longer than this is cut (a client names it, and a span name is no place for kilobytes). */
export const MAX_MODEL_CHARS = 256;

/**
 * A longer url.path is cut: a client may send a path of nearly the whole header limit, and every queued span
 * keeps it (2,048 spans of a 15 KB path held 30 MB while a collector stalled).
 */
export const MAX_PATH_CHARS = 1024;

/** The upstream, as server.address / server.port (the same for every request of a process). */
export interface UpstreamAddress {
  address: string;
  port: number;
  /** gen_ai.provider.name when the upstream is known by its host (api.openai.com), else undefined. */
  provider: string | undefined;
}

export function upstreamAddress(url: string): UpstreamAddress {
  const u = new URL(url);
  const address = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
  return { address, port, provider: address === 'api.openai.com' ? 'openai' : undefined };
}

/** The span name: `{gen_ai.operation.name} {gen_ai.request.model}` (GenAI), else the HTTP method (HTTP server spans without a route). */
export function spanName(method: string, endpoint: Endpoint, model: string | undefined): string {
  const op = OPERATION[endpoint];
  if (op === undefined) return method;
  return model === undefined ? op : `${op} ${model}`;
}

/** url.path: the path of a request target, without its query (a query may carry a key) or an absolute-form's origin. */
export function urlPath(target: string): string {
  if (target.startsWith('/')) {
    const q = target.indexOf('?');
    return q === -1 ? target : target.slice(0, q);
  }
  try {
    return new URL(target).pathname;
  } catch {
    return target === '*' ? '*' : '';
  }
}

/** `s` cut to `max` characters, copied: V8's slice of a long string keeps the whole string alive. */
const cut = (s: string, max: number): string => (s.length <= max ? s : Buffer.from(s.slice(0, max), 'utf16le').toString('utf16le'));

/** A copy of a short ASCII string (an id): a flat string of its own, not a slice of the header it came from. */
const copy = (s: string): string => Buffer.from(s, 'latin1').toString('latin1');

/**
 * The client's trace context (its `traceparent`, and `tracestate` with it), as the parent of tokentap's span,
 * at its own size. As extracted, the ids are V8 slices of the traceparent (a future version may carry
 * kilobytes after the flags) and OpenTelemetry's TraceState keeps its raw header for good (it forwards at most
 * 512 characters of it): a queued span, and an exemplar holding its trace id, kept both headers whole.
 */
function clientContext(propagator: W3CTraceContextPropagator, headers: SpanStart['headers']): Context {
  if (headers.traceparent === undefined) return ROOT_CONTEXT;
  const sc = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter));
  if (sc === undefined) return ROOT_CONTEXT;
  const state = sc.traceState?.serialize();
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: copy(sc.traceId),
    spanId: copy(sc.spanId),
    traceFlags: sc.traceFlags,
    isRemote: true,
    traceState: state ? new TraceState(copy(state)) : undefined,
  });
}

const toAbsolute = (t: number) => performance.timeOrigin + t;

/** Starts one request's span; the upstream's traceparent names it as the parent. */
export function startRequestSpan(tracer: Tracer, propagator: W3CTraceContextPropagator, upstream: UpstreamAddress, init: SpanStart): RequestSpan {
  const { headers } = init;
  const parent = clientContext(propagator, headers);
  const model = init.model === undefined ? undefined : cut(init.model, MAX_MODEL_CHARS);
  const span = tracer.startSpan(spanName(init.method, init.endpoint, model), { kind: SpanKind.SERVER, startTime: toAbsolute(init.t0) }, parent);
  const recording = span.isRecording();
  if (recording) {
    const attributes: Attributes = {
      'http.request.method': init.method,
      'url.path': cut(urlPath(init.url), MAX_PATH_CHARS),
      'server.address': upstream.address,
      'server.port': upstream.port,
      'tokentap.request_id': init.requestId,
      'tokentap.endpoint': init.endpoint,
    };
    const op = OPERATION[init.endpoint];
    if (op !== undefined) {
      attributes['gen_ai.operation.name'] = op;
      if (upstream.provider !== undefined) attributes['gen_ai.provider.name'] = upstream.provider;
      if (model !== undefined) attributes['gen_ai.request.model'] = model;
    }
    span.setAttributes(attributes);
  }
  const carrier: { traceparent?: string; tracestate?: string } = {};
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
  const context = span.spanContext();
  const sampled = recording && (context.traceFlags & TraceFlags.SAMPLED) !== 0;
  return new OneRequestSpan(span, sampled ? context.traceId : null, carrier.traceparent, carrier.tracestate, recording);
}

class OneRequestSpan implements RequestSpan {
  constructor(
    private readonly span: Span,
    readonly traceId: string | null,
    readonly traceparent: string | undefined,
    readonly tracestate: string | undefined,
    private readonly recording: boolean,
  ) {}

  end(f: FinishedRequest, t0: number): void {
    const { span } = this;
    const rec = f.record;
    const endAt = toAbsolute(t0 + rec.e2eMs);
    if (!this.recording) return span.end(endAt);
    const attributes: Attributes = {
      'http.response.status_code': f.code,
      'tokentap.outcome': f.outcome,
      'tokentap.stream': f.stream,
    };
    if (rec.ttftMs !== null) attributes['tokentap.ttft_ms'] = rec.ttftMs;
    if (rec.ttfcMs !== null) attributes['tokentap.ttfc_ms'] = rec.ttfcMs;
    if (rec.tpotMs !== null) attributes['tokentap.tpot_ms'] = rec.tpotMs;
    if (rec.usage !== null) attributes['tokentap.usage'] = rec.usage;
    if (rec.promptTokens !== null) attributes['gen_ai.usage.input_tokens'] = rec.promptTokens;
    if (rec.completionTokens !== null) attributes['gen_ai.usage.output_tokens'] = rec.completionTokens;
    if (f.outcome !== 'ok') {
      attributes['error.type'] = f.outcome;
      span.setStatus({ code: SpanStatusCode.ERROR, message: f.outcome });
    }
    span.setAttributes(attributes);
    if (rec.ttftMs !== null) span.addEvent('first_token', toAbsolute(t0 + rec.ttftMs));
    span.end(endAt);
  }
}
