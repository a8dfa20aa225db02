/**
 * Requests the HTTP layer refuses before (or while) tokentap handles them: oversized headers (431),
 * malformed or ambiguous framing such as Transfer-Encoding with Content-Length (400), a request not
 * received within request_timeout (408), CONNECT (405). Each is answered, and counted once with
 * outcome="rejected". A connection that never sent a byte is not a request: it is closed without an answer
 * and counted in tokentap_connections_closed_total. Raw bytes are never written on a socket while a
 * response is in progress on it: the answer to a malformed request pipelined behind a stream waits for
 * that stream to finish.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { lingerOnClose } from './answer.js';
import { connectNotAllowed, errorBody, type ProxyErrorSpec } from './errors.js';
import { openExchange, type OpenExchangeSinks } from './open-exchange.js';

export interface ClientErrorState {
  /** Sockets whose request body tokentap is reading now (the handler records those itself). */
  readingBody: WeakSet<Socket>;
  /** Sockets whose request the HTTP layer refused while the body was being read, with the status sent. */
  refused: WeakMap<Socket, number>;
  /** Sockets already answered for a refused request (node:http may report one parse error more than once). */
  answered: WeakSet<Socket>;
}

export const newClientErrorState = (): ClientErrorState => ({ readingBody: new WeakSet(), refused: new WeakMap(), answered: new WeakSet() });

function statusFor(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

function refusal(status: number): ProxyErrorSpec {
  return { status, type: 'invalid_request_error', code: `http_${status}`, message: `request refused: ${REASONS[status]}` };
}

/**
 * Writes a complete `Connection: close` answer as raw bytes (node:http has no response object for these), then
 * closes the socket with a lingering close.
 */
function answerRaw(socket: Socket, spec: ProxyErrorSpec, requestId: string): void {
  const body = errorBody(spec);
  lingerOnClose(socket);
  socket.write(
    `HTTP/1.1 ${spec.status} ${REASONS[spec.status]}\r\nconnection: close\r\ncontent-type: application/json\r\n` +
      `x-request-id: ${requestId}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  socket.destroySoon();
}

type Response = NodeJS.EventEmitter & { writableFinished: boolean; req?: IncomingMessage };

/** The response node:http is writing on this socket now, if one is unfinished. */
function responseInProgress(socket: Socket): Response | null {
  const res = (socket as Socket & { _httpMessage?: Response | null })._httpMessage;
  return res !== undefined && res !== null && !res.writableFinished ? res : null;
}

/**
 * Answers `spec` on the raw socket, closes it (lingering), and records a rejected request once. `req`: the
 * request when node:http parsed it (CONNECT): its headers can name a user.
 */
function refuse(sinks: OpenExchangeSinks, socket: Socket, spec: ProxyErrorSpec, method: string, req?: IncomingMessage): void {
  const init = { t0: performance.now(), requestId: randomUUID(), method, endpoint: 'other' as const, model: undefined, stream: false };
  const exchange = openExchange(sinks, init, req?.headers, req?.url ?? '');
  const answer = () => {
    if (!socket.writable) {
      socket.destroy();
      exchange.finishPlain('rejected', spec.status);
      return;
    }
    answerRaw(socket, spec, exchange.requestId);
    exchange.finishPlain('rejected', spec.status);
  };
  const inProgress = responseInProgress(socket);
  if (inProgress === null) return answer();
  // A malformed request pipelined behind a response still being written: that response keeps its bytes and
  // its outcome; this answer follows it (HTTP/1.1 answers in order). Nothing more is read meanwhile.
  socket.pause();
  let done = false;
  const after = () => {
    if (done) return;
    done = true;
    answer();
  };
  inProgress.once('finish', after);
  inProgress.once('close', after);
}

export function handleClientError(
  sinks: OpenExchangeSinks & { onIdleConnection(): void },
  state: ClientErrorState,
  err: NodeJS.ErrnoException,
  socket: Socket,
): void {
  if (state.answered.has(socket)) return;
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = statusFor(err.code);
  if (status === 408 && socket.bytesRead === 0) {
    // The connection never sent a byte (a preconnect, a port scan, a health check that only connects):
    // not a request. Closed without an answer, like nginx does.
    sinks.onIdleConnection();
    socket.destroy();
    return;
  }
  state.answered.add(socket);
  // The body being read is the one refused only while it is incomplete; otherwise the bad bytes are a
  // request pipelined behind it.
  if (state.readingBody.has(socket) && responseInProgress(socket)?.req?.complete === false) {
    // the request whose body is being read is the one refused; its handler records it
    state.refused.set(socket, status);
    answerRaw(socket, refusal(status), randomUUID());
    return;
  }
  refuse(sinks, socket, refusal(status), '-');
}

/** CONNECT: tokentap is not a tunnel. node:http hands these over as the 'connect' event, not as requests. */
export function handleConnect(sinks: OpenExchangeSinks, state: ClientErrorState, req: IncomingMessage, socket: Socket): void {
  state.answered.add(socket);
  refuse(sinks, socket, connectNotAllowed, 'CONNECT', req);
}
