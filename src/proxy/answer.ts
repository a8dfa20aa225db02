/**
 * The answers tokentap writes itself (not the upstream's): an OpenAI-style JSON error, recorded when it is
 * sent; the 500 after an internal failure; and a close that lets the client read the answer while it is
 * still sending (lingering close).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Outcome } from '../metrics/metrics.js';
import { errorBody, internalError, type ProxyErrorSpec } from './errors.js';
import { reportInternalError, type Exchange } from './exchange.js';

/** Lingering close, with nginx's defaults (lingering_timeout 5s, lingering_time 30s): stop when the client has sent nothing for… */
export const LINGER_IDLE_MS = 5_000;
/** …or at the latest after this long. */
export const LINGER_MAX_MS = 30_000;

/**
 * Closes the connection the way RFC 9112 §9.6 describes: the answer (already queued) is followed by our FIN,
 * what the client still sends is read and discarded until it stops (LINGER_IDLE_MS) or closes, at most
 * LINGER_MAX_MS; only then is the socket destroyed. Closing at once while the client is still sending makes
 * the kernel answer its data with a reset, and the client can lose the answer it had not read yet.
 * Installed as the socket's `destroySoon`, which node:http calls when a `Connection: close` response ends.
 */
export function lingerOnClose(socket: Socket, incoming?: IncomingMessage): void {
  socket.destroySoon = function lingeringClose(this: Socket) {
    incoming?.resume(); // the body the parser still delivers is discarded, not buffered
    if (this.destroyed) return;
    if (this.writable) this.end();
    this.resume();
    // node:http's parser reads the socket's handle directly (no 'data' events): activity is bytesRead moving.
    const until = performance.now() + LINGER_MAX_MS;
    let seen = this.bytesRead;
    const check = setInterval(() => {
      if (this.bytesRead !== seen && performance.now() < until) {
        seen = this.bytesRead;
        return;
      }
      done();
    }, LINGER_IDLE_MS);
    const done = () => {
      clearInterval(check);
      this.destroy();
    };
    this.once('end', done);
    this.once('close', done);
  };
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
  if (closeConnection) {
    headers.connection = 'close';
    if (outgoing.socket !== null) lingerOnClose(outgoing.socket, outgoing.req);
  }
  outgoing.once('finish', () => exchange.finishPlain(outcome, spec.status));
  outgoing.once('close', () => exchange.finishPlain(outcome, spec.status));
  outgoing.writeHead(spec.status, headers);
  outgoing.end(text);
}

/**
 * tokentap failed while handling the request (an exception of its own): the client gets a 500 when nothing
 * was sent yet, otherwise its response is cut; the exchange is recorded as `internal_error` either way.
 * Never throws.
 */
export function answerInternalError(outgoing: ServerResponse, exchange: Exchange, where: string, err: unknown): void {
  reportInternalError(where, err);
  try {
    if (!outgoing.headersSent && !outgoing.destroyed) {
      sendJsonError(outgoing, exchange, internalError, 'internal_error', true);
      return;
    }
  } catch (again) {
    reportInternalError('answering 500', again);
  }
  outgoing.destroy();
  exchange.finishPlain('internal_error', outgoing.headersSent ? outgoing.statusCode : internalError.status);
}
