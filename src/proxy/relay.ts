/**
 * The upstream exchange as an undici dispatch handler: the response is relayed to the client as it arrives
 * (no intermediate streams, no buffering), back-pressure goes both ways (pause/resume on the upstream
 * controller), every chunk is metered on the way, and the request is recorded exactly once whichever way
 * it ends.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { JsonMeter } from '../meter/json-meter.js';
import { buildRecord } from '../meter/record.js';
import { StreamMeter } from '../meter/stream-meter.js';
import type { Outcome } from '../metrics/metrics.js';
import { clientWriter, plainWriter, type ClientWriter, type Flow } from './client-writer.js';
import { errorBody, idleTimeoutEvent, type ProxyErrorSpec } from './errors.js';
import type { Exchange } from './exchange.js';
import { clientResponseHeaders } from './headers.js';
import { classifyUpstreamError, isBodyTimeout } from './upstream.js';

/** The upstream timeouts the relay names in its errors (one object per process, from the config). */
export interface RelayTimeouts {
  upstream_idle_timeout: number;
  upstream_headers_timeout: number;
}

/** Status recorded when the client left before getting a response (nginx's convention). */
export const CLIENT_CLOSED_REQUEST = 499;

export class RelayHandler implements Dispatcher.DispatchHandler, Flow {
  private controller: Dispatcher.DispatchController | null = null;
  private clientGone = false;
  private started = false;
  private status = 0;
  private isSse = false;
  private failure: Outcome | null = null;
  private streamMeter: StreamMeter | null = null;
  private jsonMeter: JsonMeter | null = null;
  private client: ClientWriter | null = null;
  private countTokens = false;

  /** The relay is also the exchange's cutter and the client writer's flow: no per-request options or closures for those. */
  constructor(
    private readonly exchange: Exchange,
    private readonly outgoing: ServerResponse,
    /** tokentap added include_usage: remove the usage-only chunk from what the client gets. */
    private readonly injectedUsage: boolean,
    private readonly timeouts: RelayTimeouts,
  ) {
    outgoing.on('close', () => this.onClientClose());
    if (outgoing.destroyed) queueMicrotask(() => this.onClientClose());
    exchange.cutter = this;
  }

  /** Flow: the client's socket is full; stop reading from the upstream. */
  pause(): void {
    this.controller?.pause();
  }

  /** Flow: the client's socket drained. */
  resume(): void {
    this.controller?.resume();
  }

  /** Aborts the upstream request and cuts the client response (Exchange.abort). */
  cut(): void {
    this.abortUpstream();
    this.outgoing.destroy();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new Error('client closed the connection'));
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    const { exchange, outgoing } = this;
    this.started = true;
    this.status = status;
    const contentType = String(headers['content-type'] ?? '');
    const encoding = headers['content-encoding'];
    const readable = encoding === undefined || encoding === 'identity';
    const isSse = contentType.startsWith('text/event-stream');
    this.isSse = isSse;
    const ok = status >= 200 && status < 300;
    const metered = exchange.endpoint !== 'other';
    const strip = this.injectedUsage && isSse && ok && readable;
    this.countTokens = metered && ok;
    if (metered && isSse && readable) this.streamMeter = new StreamMeter({ stripUsageChunk: strip });
    if (metered && !isSse && ok && readable) this.jsonMeter = new JsonMeter();
    if (isSse) exchange.stream = true;

    outgoing.writeHead(status, clientResponseHeaders(headers, { requestId: exchange.requestId, isSse, bodyRewritten: strip }));
    if (isSse) outgoing.flushHeaders();
    this.client = isSse ? clientWriter(outgoing, this) : plainWriter(outgoing, this);
    outgoing.once('finish', () => {
      const upstreamError = status >= 400 || this.streamMeter?.facts.inbandError === true;
      this.record(this.failure ?? (upstreamError ? 'upstream_error' : 'ok'));
    });
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    let out: Uint8Array = chunk;
    if (this.streamMeter !== null) out = this.streamMeter.push(chunk, performance.now());
    else if (this.jsonMeter !== null) this.jsonMeter.push(chunk);
    this.client!.write(out);
  }

  onResponseEnd(): void {
    this.endBody();
  }

  onResponseError(_c: Dispatcher.DispatchController | null, err: Error): void {
    if (this.clientGone) return; // recorded by onClientClose
    if (!this.started) {
      const { outcome, spec } = classifyUpstreamError(err, this.timeouts.upstream_headers_timeout);
      sendJsonError(this.outgoing, this.exchange, spec, outcome, false);
      return;
    }
    const { outgoing } = this;
    if (isBodyTimeout(err)) {
      this.failure = 'timeout';
      if (this.isSse) {
        this.endBody(Buffer.from(idleTimeoutEvent(this.timeouts.upstream_idle_timeout)));
        return;
      }
    } else {
      this.failure = 'stream_error';
    }
    // The client must be able to tell the body was cut: end the connection without a proper end
    // (after what did arrive).
    this.record(this.failure);
    this.client?.flush();
    this.client?.release();
    outgoing.destroy();
  }

  /** Ends the client's body properly: what the meter still holds, then `last` (if any), then the end. */
  private endBody(last?: Uint8Array): void {
    const tail = this.streamMeter?.end();
    if (tail) this.client!.write(tail);
    if (last) this.client!.write(last);
    this.client!.flush();
    this.client!.release();
    this.outgoing.end();
  }

  private abortUpstream(): void {
    if (this.controller !== null && !this.controller.aborted) this.controller.abort(new Error('client closed the connection'));
  }

  private onClientClose(): void {
    const { outgoing, exchange } = this;
    this.client?.release();
    if (outgoing.writableFinished) return;
    this.clientGone = true;
    this.abortUpstream();
    const outcome = this.failure ?? exchange.cutOutcome ?? 'client_aborted';
    if (this.started) this.record(outcome);
    else exchange.finishPlain(outcome, CLIENT_CLOSED_REQUEST);
  }

  private record(outcome: Outcome): void {
    const { exchange } = this;
    exchange.finish(
      outcome,
      this.status,
      buildRecord({
        t0: exchange.t0,
        endAt: performance.now(),
        countTokens: this.countTokens,
        promptOnly: exchange.endpoint === 'embeddings',
        stream: this.streamMeter?.facts ?? null,
        bodyUsage: this.jsonMeter?.usage() ?? null,
      }),
    );
  }
}

/** Answers with an OpenAI-style JSON error and records the exchange when the answer is sent. */
export function sendJsonError(
  outgoing: ServerResponse,
  exchange: Exchange,
  spec: ProxyErrorSpec,
  outcome: Outcome,
  closeConnection: boolean,
): void {
  const text = errorBody(spec);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-request-id': exchange.requestId,
  };
  if (closeConnection) headers.connection = 'close';
  outgoing.once('finish', () => exchange.finishPlain(outcome, spec.status));
  outgoing.once('close', () => exchange.finishPlain(outcome, spec.status));
  outgoing.writeHead(spec.status, headers);
  outgoing.end(text);
}
