/**
 * The upstream exchange as an undici dispatch handler: the response is relayed to the client as it arrives
 * (no intermediate streams, no buffering), back-pressure goes both ways (pause/resume on the upstream
 * controller), every chunk is metered on the way, and the request is recorded exactly once whichever way
 * it ends. Every callback is guarded: an exception of tokentap's own ends the exchange as `internal_error`
 * (a 500, or the response cut) instead of leaking it or taking the process down.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { JsonMeter } from '../meter/json-meter.js';
import { buildRecord } from '../meter/record.js';
import { StreamMeter, type TokenObserver } from '../meter/stream-meter.js';
import type { Outcome } from '../metrics/metrics.js';
import { answerInternalError, sendJsonError } from './answer.js';
import { clientWriter, plainWriter, type ClientWriter, type Flow } from './client-writer.js';
import { idleTimeoutEvent } from './errors.js';
import type { Exchange } from './exchange.js';
import { acceptableRequestId, clientResponseHeaders } from './headers.js';
import { SendTimer } from './send-timer.js';
import { classifyUpstreamError, isBodyTimeout } from './upstream.js';
import { writeHeadKeepingValid } from './write-head.js';

/** The timeouts the relay applies and names in its errors (one object per process, from the config). */
export interface RelayTimeouts {
  upstream_idle_timeout: number;
  upstream_headers_timeout: number;
  client_send_timeout: number;
}

/** A process proxies to one upstream: its impossible usage numbers are reported once, not per request. */
let usageRejectionReported = false;

/** Status recorded when the client left before getting a response (nginx's convention). */
export const CLIENT_CLOSED_REQUEST = 499;

export class RelayHandler implements Dispatcher.DispatchHandler, Flow, TokenObserver {
  private controller: Dispatcher.DispatchController | null = null;
  private clientGone = false;
  /** tokentap failed itself (internal_error): everything after is ignored. */
  private broken = false;
  private started = false;
  private status = 0;
  private isSse = false;
  private failure: Outcome | null = null;
  private streamMeter: StreamMeter | null = null;
  private jsonMeter: JsonMeter | null = null;
  private client: ClientWriter | null = null;
  private countTokens = false;
  private readonly sendTimer: SendTimer;

  /** The relay is also the exchange's cutter and the client writer's flow: no per-request options or closures for those. */
  constructor(
    private readonly exchange: Exchange,
    private readonly outgoing: ServerResponse,
    /** tokentap added include_usage: remove the usage-only chunk from what the client gets. */
    private readonly injectedUsage: boolean,
    private readonly timeouts: RelayTimeouts,
  ) {
    this.sendTimer = new SendTimer(timeouts.client_send_timeout, this);
    outgoing.on('close', () => this.guard('client close', () => this.onClientClose()));
    if (outgoing.destroyed) queueMicrotask(() => this.guard('client close', () => this.onClientClose()));
    exchange.cutter = this;
  }

  /** Flow: the client's socket is full; stop reading from the upstream. */
  pause(): void {
    this.controller?.pause();
    this.sendTimer.paused();
  }

  /** Flow: the client's socket drained. */
  resume(): void {
    this.sendTimer.drained();
    this.controller?.resume();
  }

  /** The client accepted nothing for client_send_timeout: give up on it (SendTimer). */
  sendTimedOut(): void {
    this.clientGone = true; // the upstream error the abort causes is ours, not the upstream's
    this.abortUpstream();
    this.client?.release();
    this.record('client_aborted');
    this.outgoing.destroy();
  }

  /** TokenObserver: a token event passed (live metering). */
  tokenEvent(now: number, gapMs: number | null): void {
    this.exchange.observeTokenEvent(now, gapMs, this.countTokens);
  }

  /** TokenObserver: the first content event passed. */
  firstContent(now: number): void {
    this.exchange.observeFirstContent(now);
  }

  /** Aborts the upstream request and cuts the client response (Exchange.abort). */
  cut(): void {
    this.abortUpstream();
    this.outgoing.destroy();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone || this.broken) controller.abort(new Error('client closed the connection'));
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    if (this.broken) return;
    // 1xx informational answers (103 Early Hints) are not relayed: the final response follows.
    if (status < 200) return;
    try {
      this.start(status, headers);
    } catch (err) {
      this.fail('relaying response headers', err);
    }
  }

  private start(status: number, headers: IncomingHttpHeaders): void {
    const { exchange, outgoing } = this;
    this.started = true;
    this.status = status;
    exchange.answered(status);
    exchange.upstreamRequestId = acceptableRequestId(headers['x-request-id']) ?? null;
    const contentType = String(headers['content-type'] ?? '');
    const encoding = headers['content-encoding'];
    const readable = encoding === undefined || encoding === 'identity';
    const isSse = contentType.startsWith('text/event-stream');
    this.isSse = isSse;
    const ok = status >= 200 && status < 300;
    const metered = exchange.endpoint !== 'other';
    const strip = this.injectedUsage && isSse && ok && readable;
    this.countTokens = metered && ok;
    if (metered && isSse && readable) this.streamMeter = new StreamMeter({ stripUsageChunk: strip, observer: this });
    if (metered && !isSse && ok && readable) this.jsonMeter = new JsonMeter();
    if (isSse) exchange.stream = true;

    outgoing.once('finish', () =>
      this.guard('finishing a response', () => {
        if (this.broken) return; // recorded as internal_error (the 500 that replaced this response)
        const upstreamError = status >= 400 || this.streamMeter?.facts.inbandError === true;
        this.record(this.failure ?? (upstreamError ? 'upstream_error' : 'ok'));
      }),
    );
    writeHeadKeepingValid(outgoing, status, clientResponseHeaders(headers, { requestId: exchange.requestId, isSse, bodyRewritten: strip }));
    if (isSse) outgoing.flushHeaders();
    this.client = isSse ? clientWriter(outgoing, this) : plainWriter(outgoing, this);
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.broken) return;
    try {
      let out: Uint8Array = chunk;
      if (this.streamMeter !== null) out = this.streamMeter.push(chunk, performance.now());
      else if (this.jsonMeter !== null) this.jsonMeter.push(chunk);
      this.client!.write(out);
    } catch (err) {
      this.fail('relaying a response chunk', err);
    }
  }

  onResponseEnd(): void {
    if (this.broken) return;
    try {
      this.endBody();
    } catch (err) {
      this.fail('ending a response', err);
    }
  }

  onResponseError(_c: Dispatcher.DispatchController | null, err: Error): void {
    if (this.clientGone || this.broken) return; // recorded already
    try {
      this.upstreamFailed(err);
    } catch (again) {
      this.fail('relaying an upstream error', again);
    }
  }

  private upstreamFailed(err: Error): void {
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
    this.sendTimer.stop();
    this.client?.release();
    if (outgoing.writableFinished) return;
    this.clientGone = true;
    this.abortUpstream();
    const outcome = this.failure ?? exchange.cutOutcome ?? 'client_aborted';
    if (this.started) this.record(outcome);
    else exchange.finishPlain(outcome, CLIENT_CLOSED_REQUEST);
  }

  /** Runs a listener body; an exception of tokentap's own becomes `fail` instead of an uncaught error. */
  private guard(where: string, body: () => void): void {
    try {
      body();
    } catch (err) {
      this.fail(where, err);
    }
  }

  /** tokentap failed itself: abort the upstream request, answer 500 or cut the response, record once. */
  fail(where: string, err: unknown): void {
    if (this.broken) return;
    this.broken = true;
    this.sendTimer.stop();
    this.abortUpstream();
    this.client?.release();
    answerInternalError(this.outgoing, this.exchange, where, err);
  }

  private record(outcome: Outcome): void {
    const { exchange, streamMeter, jsonMeter } = this;
    const bodyUsage = jsonMeter?.usage() ?? null;
    if (!usageRejectionReported && (streamMeter?.facts.usageRejected === true || jsonMeter?.usageRejected === true)) {
      usageRejectionReported = true;
      console.error(
        'tokentap: the upstream reported usage that cannot be true (token counts must be whole numbers from 0 to 1e9); ' +
          'such requests count as "no usage reported" (estimated). Reported once.',
      );
    }
    exchange.finish(
      outcome,
      this.status,
      buildRecord({
        t0: exchange.t0,
        endAt: performance.now(),
        countTokens: this.countTokens,
        promptOnly: exchange.endpoint === 'embeddings',
        stream: streamMeter?.facts ?? null,
        bodyUsage,
      }),
    );
  }
}
