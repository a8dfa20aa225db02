/** The metrics port's Hono app: /metrics (optionally bearer-protected), /healthz, /readyz. */
import { Hono } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import type { Registry } from 'prom-client';

export interface MetricsAppOptions {
  register: Registry;
  /** Is the upstream reachable? */
  ready: () => Promise<boolean>;
  /** When set, /metrics requires `Authorization: Bearer <token>`. */
  token?: string;
}

export function createMetricsApp({ register, ready, token }: MetricsAppOptions): Hono {
  const app = new Hono();
  if (token !== undefined) app.use('/metrics', bearerAuth({ token }));
  app.get('/metrics', async (c) => {
    const text = await register.metrics();
    return c.body(text, 200, { 'content-type': register.contentType });
  });
  app.get('/healthz', (c) => c.text('ok\n'));
  app.get('/readyz', async (c) => ((await ready()) ? c.text('ready\n') : c.text('upstream unreachable\n', 503)));
  return app;
}
