/** The proxy's request handler: read the body once, meter it, forward it, relay the answer. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/schema.js';
import type { ModelLabeler } from '../metrics/model-label.js';
import { UNKNOWN_MODEL } from '../metrics/model-label.js';
import { acceptsStreamOptions, classifyEndpoint } from './endpoint.js';
import type { ClientErrorState } from './client-errors.js';
import { bodyTooLarge } from './errors.js';
import { Exchange, type ExchangeSinks } from './exchange.js';
import { acceptableRequestId, upstreamRequestHeaders } from './headers.js';
import { BodyTooLargeError, readBody } from './read-body.js';
import { CLIENT_CLOSED_REQUEST, RelayHandler, sendJsonError } from './relay.js';
import { inspectRequestBody, withIncludeUsage, type RequestFacts } from './request-body.js';
import type { Upstream } from './upstream.js';

export interface ProxyDeps extends ExchangeSinks {
  config: Config;
  upstream: Upstream;
  models: ModelLabeler;
  clientErrors: ClientErrorState;
}

const NO_FACTS: RequestFacts = { model: undefined, stream: false, includeUsage: false, isObject: false, hasStreamOptions: false };

function hasBody(incoming: IncomingMessage): boolean {
  return incoming.headers['content-length'] !== undefined || incoming.headers['transfer-encoding'] !== undefined;
}

export async function handleProxyRequest(deps: ProxyDeps, incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
  const t0 = performance.now();
  const method = incoming.method ?? 'GET';
  const endpoint = classifyEndpoint(method, incoming.url);
  const requestId = acceptableRequestId(incoming.headers['x-request-id']) ?? randomUUID();

  let body: Buffer | undefined;
  if (hasBody(incoming)) {
    const socket = incoming.socket;
    deps.clientErrors.readingBody.add(socket);
    try {
      body = await readBody(incoming, deps.config.body_limit);
    } catch (err) {
      const exchange = new Exchange(deps, { t0, requestId, method, endpoint, model: UNKNOWN_MODEL, stream: false });
      if (err instanceof BodyTooLargeError) {
        sendJsonError(outgoing, exchange, bodyTooLarge(deps.config.body_limit), 'rejected', true);
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
  const exchange = new Exchange(deps, { t0, requestId, method, endpoint, model: deps.models.label(facts.model), stream: facts.stream });
  const inject =
    deps.config.inject_usage && facts.stream && !facts.includeUsage && facts.isObject && acceptsStreamOptions(endpoint);
  const sent = inject && body !== undefined ? withIncludeUsage(body, facts) : body;

  const relay = new RelayHandler(exchange, outgoing, inject, deps.config);
  try {
    deps.upstream.dispatcher.dispatch(
      {
        path: deps.upstream.basePath + (incoming.url ?? '/'),
        method: method as 'GET',
        headers: upstreamRequestHeaders(incoming.rawHeaders, {
          requestId,
          clientIp: incoming.socket.remoteAddress,
          bodyLength: sent?.length,
          identityEncoding: endpoint !== 'other',
        }),
        body: sent ?? null,
      },
      relay,
    );
  } catch (err) {
    relay.onResponseError(null, err as Error); // undici refused the request itself (e.g. a method it cannot send)
  }
}
