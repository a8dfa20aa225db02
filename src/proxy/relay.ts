/**
 * Relays an upstream response to the client as it arrives: no buffering, back-pressure both ways,
 * every chunk metered on the way, the request recorded exactly once whichever way it ends.
 */
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { JsonMeter } from '../meter/json-meter.js';
import { buildRecord } from '../meter/record.js';
import { StreamMeter } from '../meter/stream-meter.js';
import type { Outcome } from '../metrics/metrics.js';
import { idleTimeoutEvent } from './errors.js';
import type { Exchange } from './exchange.js';
import { clientWriter, plainWriter } from './client-writer.js';
import { clientResponseHeaders } from './headers.js';
import { isBodyTimeout } from './upstream.js';

export interface RelayContext {
  exchange: Exchange;
  outgoing: ServerResponse;
  response: Dispatcher.ResponseData;
  /** tokentap added include_usage: remove the usage-only chunk from what the client gets. */
  injectedUsage: boolean;
  idleTimeoutMs: number;
  /** Is the client still there? (set false by the edge when the connection closes early) */
  clientGone: () => boolean;
}

export function relayResponse(ctx: RelayContext): void {
  const { exchange, outgoing, response } = ctx;
  const { statusCode: status, headers, body } = response;
  const contentType = String(headers['content-type'] ?? '');
  const encoding = headers['content-encoding'];
  const readable = encoding === undefined || encoding === 'identity';
  const isSse = contentType.startsWith('text/event-stream');
  const ok = status >= 200 && status < 300;
  const metered = exchange.endpoint !== 'other';
  const strip = ctx.injectedUsage && isSse && ok && readable;

  const streamMeter = metered && isSse && readable ? new StreamMeter({ stripUsageChunk: strip }) : null;
  const jsonMeter = metered && !isSse && ok && readable ? new JsonMeter() : null;
  if (isSse) exchange.stream = true;

  const finishWith = (outcome: Outcome, endAt = performance.now()) => {
    exchange.finish(
      outcome,
      status,
      buildRecord({
        t0: exchange.t0,
        endAt,
        countTokens: metered && ok,
        promptOnly: exchange.endpoint === 'embeddings',
        stream: streamMeter?.facts ?? null,
        bodyUsage: jsonMeter?.usage() ?? null,
      }),
    );
  };
  let failure: Outcome | null = null;

  outgoing.writeHead(status, clientResponseHeaders(headers, { requestId: exchange.requestId, isSse, bodyRewritten: strip }));
  if (isSse) outgoing.flushHeaders();
  const client = isSse ? clientWriter(outgoing) : plainWriter(outgoing);

  body.on('data', (chunk: Buffer) => {
    let out: Uint8Array = chunk;
    if (streamMeter !== null) out = streamMeter.push(chunk, performance.now());
    else if (jsonMeter !== null) jsonMeter.push(chunk);
    if (out.length > 0 && !client.write(out)) body.pause();
  });
  client.onDrain(() => body.resume());
  body.on('end', () => {
    const tail = streamMeter?.end();
    if (tail && tail.length > 0) client.write(tail);
    client.release();
    outgoing.end();
  });
  outgoing.on('finish', () => {
    const upstreamError = status >= 400 || streamMeter?.facts.inbandError === true;
    finishWith(failure ?? (upstreamError ? 'upstream_error' : 'ok'));
  });
  outgoing.on('close', () => {
    client.release();
    if (!outgoing.writableFinished) finishWith(failure ?? exchange.cutOutcome ?? 'client_aborted');
  });
  body.on('error', (err) => {
    if (ctx.clientGone()) return; // the close handler records client_aborted
    if (isBodyTimeout(err)) {
      failure = 'timeout';
      if (isSse) {
        const tail = streamMeter?.end();
        if (tail && tail.length > 0) client.write(tail);
        client.write(Buffer.from(idleTimeoutEvent(ctx.idleTimeoutMs)));
        client.release();
        outgoing.end();
        return;
      }
    } else {
      failure = 'stream_error';
    }
    // The client must be able to tell the body was cut: end the connection without a proper end.
    finishWith(failure);
    outgoing.destroy();
  });
}
