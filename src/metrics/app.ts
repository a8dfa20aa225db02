/** The metrics port's Hono app: /metrics (optionally bearer-protected), /healthz, /readyz. */
import { Hono } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
export interface MetricsAppOptions {
  /** The exposition text (one process's registry, or the aggregate of all workers). */
  exposition: () => Promise<string>;
  contentType: string;
  /** Is the upstream reachable? */
  ready: () => Promise<boolean>;
  /** When set, /metrics requires `Authorization: Bearer <token>`. */
  token?: string;
}

export function createMetricsApp({ exposition, contentType, ready, token }: MetricsAppOptions): Hono {
  const app = new Hono();
  if (token !== undefined) app.use('/metrics', bearerAuth({ token }));
  app.get('/metrics', async (c) => {
    return c.body(await exposition(), 200, { 'content-type': contentType });
  });
  app.get('/healthz', (c) => c.text('ok\n'));
  app.get('/readyz', async (c) => ((await ready()) ? c.text('ready\n') : c.text('upstream unreachable\n', 503)));
  return app;
}
