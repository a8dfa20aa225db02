/** Where every exchange starts, whichever path the request takes: attributed to its user and traced. */
import type { IncomingHttpHeaders } from 'node:http';
import type { Tracing } from '../trace/types.js';
import { Exchange, reportInternalError, type ExchangeInit, type ExchangeSinks } from './exchange.js';

export interface OpenExchangeSinks extends ExchangeSinks {
  /** Tracing when on (src/trace/), else null. Absent = null. */
  tracing?: Tracing | null;
}

/**
 * A new exchange (see Exchange), with its user (attribution on) and its span (tracing on). The proxied path,
 * a CONNECT, a request node:http refused and an unmet Expect all start here, so each is attributed and traced
 * the same way. `headers`: undefined when node:http could not parse them; `url`: the request target;
 * `bodyUser`: the body's `user` when the body scan read it. Tracing failing leaves the request untraced, never
 * failed.
 */
export function openExchange(
  sinks: OpenExchangeSinks,
  init: ExchangeInit,
  headers: IncomingHttpHeaders | undefined,
  url: string,
  bodyUser?: string,
): Exchange {
  const exchange = new Exchange(sinks, init);
  if (sinks.attribution != null && headers !== undefined) exchange.attribute(headers, bodyUser);
  if (sinks.tracing != null) {
    try {
      exchange.span = sinks.tracing.start({ ...init, url, headers: headers ?? {} });
      exchange.traceId = exchange.span.traceId;
    } catch (err) {
      reportInternalError('starting a span', err); // the request goes on untraced
    }
  }
  return exchange;
}
