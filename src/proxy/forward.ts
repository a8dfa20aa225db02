/** The proxy's request handler: read the body once, meter it, forward it, relay the answer. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import type { Config } from '../config/schema.js';
import { answerInternalError, sendJsonError } from './answer.js';
import type { ClientErrorState } from './client-errors.js';
import { acceptsStreamOptions } from './endpoint.js';
import { badRequestTarget, bodyTooLarge, connectNotAllowed } from './errors.js';
import { reportInternalError, type Exchange, type ExchangeSinks } from './exchange.js';
import { openExchange } from './open-exchange.js';
import { acceptableRequestId, upstreamRequestHeaders } from './headers.js';
import { BodyTooLargeError, ClientGoneError, readBody } from './read-body.js';
import { CLIENT_CLOSED_REQUEST, RelayHandler } from './relay.js';
import { inspectRequestBody, NO_FACTS, withIncludeUsage } from './request-body.js';
import { resolveTarget } from './request-target.js';
import type { Upstream } from './upstream.js';
import type { Tracing } from '../trace/types.js';

export interface ProxyDeps extends ExchangeSinks {
  config: Config;
  upstream: Upstream;
  clientErrors: ClientErrorState;
  /** Tracing on (src/trace/), else null. */
  tracing: Tracing | null;
}

/** What one request has built so far, so that a failure anywhere can still finish it exactly once. */
export interface RequestState {
  t0: number;
  requestId: string;
  exchange: Exchange | null;
  relay: RelayHandler | null;
}

const HOSTNAME = hostname();

function hasBody(incoming: IncomingMessage): boolean {
  return incoming.headers['content-length'] !== undefined || incoming.headers['transfer-encoding'] !== undefined;
}

/** The listener's entry: handles the request; any exception of tokentap's own ends it as internal_error. */
export function proxyRequest(deps: ProxyDeps, incoming: IncomingMessage, outgoing: ServerResponse): void {
  const state: RequestState = {
    t0: performance.now(),
    requestId: acceptableRequestId(incoming.headers['x-request-id']) ?? randomUUID(),
    exchange: null,
    relay: null,
  };
  handleProxyRequest(deps, incoming, outgoing, state).catch((err: unknown) => {
    if (state.relay !== null) return state.relay.fail('handling a request', err);
    try {
      const exchange = state.exchange ?? newExchange(deps, incoming, state, 'other', undefined);
      answerInternalError(outgoing, exchange, 'handling a request', err);
    } catch (again) {
      // not even an exchange could be made (the metrics themselves fail): the connection is cut, never the process
      reportInternalError('handling a request', err);
      reportInternalError('recording a failed request', again);
      outgoing.destroy();
    }
  });
}

function newExchange(
  deps: ProxyDeps,
  incoming: IncomingMessage,
  state: RequestState,
  endpoint: Exchange['endpoint'],
  model: string | undefined,
  stream = false,
  bodyUser?: string,
): Exchange {
  const init = { t0: state.t0, requestId: state.requestId, method: incoming.method ?? 'GET', endpoint, model, stream };
  const exchange = openExchange(deps, init, incoming.headers, incoming.url ?? '/', bodyUser);
  state.exchange = exchange;
  return exchange;
}

async function handleProxyRequest(deps: ProxyDeps, incoming: IncomingMessage, outgoing: ServerResponse, state: RequestState): Promise<void> {
  const method = incoming.method ?? 'GET';
  const socket = incoming.socket;
  const target = resolveTarget(method, incoming.url ?? '/', { localAddress: socket.localAddress, localPort: socket.localPort, hostname: HOSTNAME });
  if (target.kind !== 'path') {
    const exchange = newExchange(deps, incoming, state, 'other', undefined);
    if (target.kind === 'asterisk') {
      // `OPTIONS * HTTP/1.1`: a question about the server, answered here (there is no resource to forward to)
      outgoing.once('finish', () => exchange.finishPlain('ok', 204));
      outgoing.once('close', () => exchange.finishPlain('client_aborted', CLIENT_CLOSED_REQUEST));
      outgoing.writeHead(204, { allow: 'GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS', 'x-request-id': state.requestId, 'content-length': 0 });
      outgoing.end();
    } else {
      const spec = target.kind === 'refused' ? badRequestTarget(target.reason) : connectNotAllowed;
      sendJsonError(outgoing, exchange, spec, 'rejected', true);
    }
    return;
  }
  const { endpoint } = target;

  let body: Buffer | undefined;
  if (hasBody(incoming)) {
    deps.clientErrors.readingBody.add(socket);
    try {
      body = await readBody(incoming, deps.config.body_limit);
    } catch (err) {
      const exchange = newExchange(deps, incoming, state, endpoint, undefined);
      if (err instanceof BodyTooLargeError) {
        sendJsonError(outgoing, exchange, bodyTooLarge(deps.config.body_limit), 'rejected', true);
      } else if (deps.clientErrors.refused.has(socket)) {
        // the HTTP layer refused it mid-body (request_timeout: 408, bad chunked framing: 400)
        exchange.finishPlain('rejected', deps.clientErrors.refused.get(socket)!);
      } else if (err instanceof ClientGoneError || incoming.destroyed || socket.destroyed) {
        exchange.finishPlain('client_aborted', CLIENT_CLOSED_REQUEST);
      } else {
        throw err; // not the client's doing: answered 500, internal_error (proxyRequest)
      }
      return;
    } finally {
      deps.clientErrors.readingBody.delete(socket);
    }
  }

  const facts = endpoint !== 'other' && body !== undefined ? inspectRequestBody(body, deps.attribution?.bodyUser === true) : NO_FACTS;
  const exchange = newExchange(deps, incoming, state, endpoint, facts.model, facts.stream, facts.user);
  const inject = deps.config.inject_usage && facts.stream && facts.injectable && acceptsStreamOptions(endpoint);
  const sent = inject && body !== undefined ? withIncludeUsage(body, facts) : body;

  const relay = new RelayHandler(exchange, outgoing, inject, deps.config);
  state.relay = relay;
  const headers = upstreamRequestHeaders(incoming.rawHeaders, {
    requestId: state.requestId,
    clientIp: socket.remoteAddress,
    bodyLength: sent?.length,
    identityEncoding: endpoint !== 'other',
    trustForwarded: deps.config.trust_forwarded_headers,
    traceparent: exchange.span?.traceparent,
    tracestate: exchange.span?.tracestate,
  });
  try {
    deps.upstream.dispatcher.dispatch({ path: deps.upstream.basePath + target.path, method: method as 'GET', headers, body: sent ?? null }, relay);
  } catch (err) {
    relay.onResponseError(null, err as Error); // undici refused the request itself (e.g. a method it cannot send): 502
  }
}
