/**
 * Requests the HTTP layer refuses before (or while) tokentap handles them: oversized headers (431),
 * malformed or ambiguous framing such as Transfer-Encoding with Content-Length (400), a request not
 * received within request_timeout (408). Each is answered, and counted once with outcome="rejected".
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { UNKNOWN_MODEL } from '../metrics/model-label.js';
import { Exchange, type ExchangeSinks } from './exchange.js';

export interface ClientErrorState {
  /** Sockets whose request body tokentap is reading now (the handler records those itself). */
  readingBody: WeakSet<Socket>;
  /** Sockets whose request the HTTP layer refused while the body was being read, with the status sent. */
  refused: WeakMap<Socket, number>;
}

export const newClientErrorState = (): ClientErrorState => ({ readingBody: new WeakSet(), refused: new WeakMap() });

function statusFor(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

export function handleClientError(sinks: ExchangeSinks, state: ClientErrorState, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = statusFor(err.code);
  const body = JSON.stringify({ error: { message: `request refused: ${REASONS[status]}`, type: 'invalid_request_error', code: `http_${status}` } });
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status]}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  socket.destroySoon();
  if (state.readingBody.has(socket)) {
    state.refused.set(socket, status); // the handler reading the body records it
    return;
  }
  const exchange = new Exchange(sinks, {
    t0: performance.now(),
    requestId: randomUUID(),
    method: '-',
    endpoint: 'other',
    model: UNKNOWN_MODEL,
    stream: false,
  });
  exchange.finishPlain('rejected', status);
}
