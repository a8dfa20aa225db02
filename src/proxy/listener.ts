/**
 * The proxy port's request listener: every method and path goes to the forwarding handler, which answers on
 * the Node response itself and finishes the request exactly once on every path, its own exceptions included
 * (forward.ts `proxyRequest`). It is a plain node:http listener rather than a Hono app: there is nothing to
 * route, and Hono's adaptor and context cost 8–10 % CPU and about a tenth of the allocations per request
 * (A/B measured, see docs/performance.md). The metrics port is the Hono app.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { proxyRequest, type ProxyDeps } from './forward.js';

export function proxyListener(deps: ProxyDeps): (incoming: IncomingMessage, outgoing: ServerResponse) => void {
  return (incoming, outgoing) => proxyRequest(deps, incoming, outgoing);
}
