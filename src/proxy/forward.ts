/** The proxy's request handler: read the body once, meter it, forward it, relay the answer. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/schema.js';
import type { ModelLabeler } from '../metrics/model-label.js';
import { UNKNOWN_MODEL } from '../metrics/model-label.js';
import { acceptsStreamOptions, classifyEndpoint } from './endpoint.js';
import { bodyTooLarge, errorBody, type ProxyErrorSpec } from './errors.js';
import type { ClientErrorState } from './client-errors.js';
import { Exchange, type ExchangeSinks } from './exchange.js';
import { acceptableRequestId, upstreamRequestHeaders } from './headers.js';
import { BodyTooLargeError, readBody } from './read-body.js';
import { relayResponse } from './relay.js';
import { inspectRequestBody, withIncludeUsage, type RequestFacts } from './request-body.js';
import { classifyUpstreamError, type Upstream } from './upstream.js';

export interface ProxyDeps extends ExchangeSinks {
  config: Config;
  upstream: Upstream;
  models: ModelLabeler;
  clientErrors: ClientErrorState;
}

const NO_FACTS: RequestFacts = { model: undefined, stream: false, includeUsage: false, json: null };

/** Status recorded when the client left before getting a response (nginx's convention). */
export const CLIENT_CLOSED_REQUEST = 499;

function hasBody(incoming: IncomingMessage): boolean {
  return incoming.headers['content-length'] !== undefined || incoming.headers['transfer-encoding'] !== undefined;
}

export async function handleProxyRequest(deps: ProxyDeps, incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
  const t0 = performance.now();
  const method = incoming.method ?? 'GET';
  const endpoint = classifyEndpoint(method, incoming.url);
  const requestId = acceptableRequestId(incoming.headers['x-request-id']) ?? randomUUID();
  const newExchange = (model: string, stream: boolean) =>
    new Exchange(deps, { t0, requestId, method, endpoint, model, stream });

  let body: Buffer | undefined;
  if (hasBody(incoming)) {
    const socket = incoming.socket;
    deps.clientErrors.readingBody.add(socket);
    try {
      body = await readBody(incoming, deps.config.body_limit);
    } catch (err) {
      const exchange = newExchange(UNKNOWN_MODEL, false);
      if (err instanceof BodyTooLargeError) {
        sendError(outgoing, exchange, bodyTooLarge(deps.config.body_limit), 'rejected', true);
      } else if (deps.clientErrors.refused.has(socket)) {
        // the HTTP layer refused it mid-body (request_timeout: 408, bad chunked framing: 400)
        exchange.finishPlain('rejected', deps.clientErrors.refused.get(socket)!);
      } else {
        exchange.finishPlain('client_aborted', CLIENT_CLOSED_REQUEST);
      }
      return;
    } finally {
      deps.clientErrors.readingBody.delete(socket);
    }
  }

  const facts = endpoint !== 'other' && body !== undefined ? inspectRequestBody(body) : NO_FACTS;
  const exchange = newExchange(deps.models.label(facts.model), facts.stream);
  const inject =
    deps.config.inject_usage && facts.stream && !facts.includeUsage && facts.json !== null && acceptsStreamOptions(endpoint);
  const sent = inject && body !== undefined ? withIncludeUsage(body, facts) : body;

  const abort = new AbortController();
  let clientGone = false;
  let responding = false;
  outgoing.on('close', () => {
    if (outgoing.writableFinished) return;
    clientGone = true;
    abort.abort();
    if (!responding) exchange.finishPlain(exchange.cutOutcome ?? 'client_aborted', CLIENT_CLOSED_REQUEST);
  });
  exchange.cut = () => {
    abort.abort();
    outgoing.destroy();
  };

  let response;
  try {
    response = await deps.upstream.dispatcher.request({
      path: deps.upstream.basePath + (incoming.url ?? '/'),
      method: method as 'GET',
      headers: upstreamRequestHeaders(incoming.rawHeaders, {
        requestId,
        clientIp: incoming.socket.remoteAddress,
        bodyLength: sent?.length,
        identityEncoding: endpoint !== 'other',
      }),
      body: sent ?? null,
      signal: abort.signal,
    });
  } catch (err) {
    if (clientGone) return;
    const { outcome, spec } = classifyUpstreamError(err, deps.config.upstream_headers_timeout);
    sendError(outgoing, exchange, spec, outcome, false);
    return;
  }
  if (clientGone) {
    response.body.destroy();
    return;
  }
  responding = true;
  relayResponse({
    exchange,
    outgoing,
    response,
    injectedUsage: inject,
    idleTimeoutMs: deps.config.upstream_idle_timeout,
    clientGone: () => clientGone,
  });
}

/** Answers with an OpenAI-style JSON error and records the exchange when the answer is sent. */
function sendError(
  outgoing: ServerResponse,
  exchange: Exchange,
  spec: ProxyErrorSpec,
  outcome: Parameters<Exchange['finish']>[0],
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
