/** The proxy's Hono app: every method and path goes to the forwarding handler, which answers on the Node response. */
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import { handleProxyRequest, type ProxyDeps } from './forward.js';

export function createProxyApp(deps: ProxyDeps): Hono<{ Bindings: HttpBindings }> {
  const app = new Hono<{ Bindings: HttpBindings }>();
  app.all('*', (c) => {
    const { incoming, outgoing } = c.env;
    handleProxyRequest(deps, incoming, outgoing).catch((err: unknown) => {
      console.error(`tokentap: internal error: ${(err as Error)?.stack ?? err}`);
      if (!outgoing.headersSent) {
        outgoing.writeHead(500, { 'content-type': 'application/json' });
        outgoing.end(JSON.stringify({ error: { message: 'tokentap internal error', type: 'internal_error', code: 'internal_error' } }));
      } else {
        outgoing.destroy();
      }
    });
    return RESPONSE_ALREADY_SENT;
  });
  return app;
}
