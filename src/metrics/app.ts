/** The metrics port's Hono app: /metrics (optionally bearer-protected), /healthz, /readyz. */
import { Hono } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { OPENMETRICS_CONTENT_TYPE, scrapeFormat } from './openmetrics.js';
import { nextTurn, sliceSpent } from './sliced-render.js';
export interface MetricsAppOptions {
  /** The exposition text (one process's registry, or the aggregate of all workers), whole or in pieces to
   * concatenate. */
  exposition: () => Promise<string | readonly string[]>;
  contentType: string;
  /** The same exposition in the OpenMetrics 1.0 format (with exemplars), served to a scrape whose Accept asks
   * for it (scrapeFormat). Unset: the classic format, whatever the Accept. */
  openMetrics?: () => Promise<string | readonly string[]>;
  /** Is the upstream reachable? */
  ready: () => Promise<boolean>;
  /** When set, /metrics requires `Authorization: Bearer <token>`. */
  token?: string;
}

export function createMetricsApp({ exposition, contentType, openMetrics, ready, token }: MetricsAppOptions): Hono {
  const app = new Hono();
  // Encoded once for all the scrapes that share a render, in slices: each response would otherwise encode
  // the whole text again, synchronously, and they all resume in the same turn of the event loop. One shared
  // render per format, spaced out together: scrapers of both formats take no more of the loop than one.
  const spacing: RenderSpacing = { nextStart: 0 };
  const render = sharedRender(async () => encodeInSlices(await exposition()), spacing);
  const renderOpenMetrics = openMetrics && sharedRender(async () => encodeInSlices(await openMetrics()), spacing);
  if (token !== undefined) app.use('/metrics', bearerAuth({ token }));
  app.get('/metrics', async (c) => {
    const om = renderOpenMetrics !== undefined && scrapeFormat(c.req.header('accept')) === 'openmetrics';
    const pieces = await (om ? renderOpenMetrics : render)();
    const length = pieces.reduce((n, p) => n + p.length, 0);
    const headers: Record<string, string> = { 'content-type': om ? OPENMETRICS_CONTENT_TYPE : contentType, 'content-length': String(length) };
    if (renderOpenMetrics !== undefined) headers.vary = 'Accept';
    return c.body(bodyStream(pieces), 200, headers);
  });
  app.get('/healthz', (c) => c.text('ok\n'));
  app.get('/readyz', async (c) => ((await ready()) ? c.text('ready\n') : c.text('upstream unreachable\n', 503)));
  return app;
}

/**
 * After a render, the next one starts no sooner than this many times its duration later. The metrics port
 * shares the event loop (or, with --workers, the workers' loops) with the relayed streams: however many
 * clients scrape however often, rendering then takes at most 1/(1 + RENDER_SPACING) of it, 10%. (Four
 * unthrottled scrapers of a 7.3 MB exposition took the proxy's p50 latency from 0.8 to 122 ms.) For a
 * typical exposition (a few ms) the pause is tens of ms, which a scraper does not notice.
 */
export const RENDER_SPACING = 9;
/** The longest pause between two renders, whatever the render's duration: far below Prometheus's scrape
 * timeout (10 s by default). */
export const MAX_RENDER_PAUSE_MS = 1000;

/** When the next render may start (performance.now()); shared by the renders that take turns (both formats). */
export interface RenderSpacing {
  nextStart: number;
}

/**
 * `render`, shared by concurrent callers and spaced out (RENDER_SPACING, MAX_RENDER_PAUSE_MS): a call while a
 * render is pending or running gets that render's text. A call when none is starts a new one, after the
 * pause if the last one ended too recently, so a scrape is never answered with a text rendered before it
 * arrived unless it arrived during a render (which then is at most one render's duration old). A time-based
 * cache would answer "request, then scrape" with counts from before the request, and Prometheus gains
 * nothing from it that the spacing does not give.
 */
export function sharedRender<T>(render: () => Promise<T>, spacing: RenderSpacing = { nextStart: 0 }): () => Promise<T> {
  let current: Promise<T> | null = null;
  const run = async (): Promise<T> => {
    const pause = spacing.nextStart - performance.now();
    if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
    const start = performance.now();
    try {
      return await render();
    } finally {
      const end = performance.now();
      spacing.nextStart = end + Math.min(MAX_RENDER_PAUSE_MS, RENDER_SPACING * (end - start));
    }
  };
  const clear = () => {
    current = null;
  };
  return () => {
    if (current === null) {
      current = run();
      current.then(clear, clear); // also when it fails: the next scrape tries again
    }
    return current;
  };
}

/** Characters encoded at a time, about 0.3 ms of work. */
const PIECE_CHARS = 64 * 1024;

/** The text as UTF-8, PIECE_CHARS at a time, letting the event loop turn between pieces (see SLICE_MS):
 * encoding megabytes at once is a stall of its own (about 2 ms per MB), and so is joining them into one string. */
async function encodeInSlices(text: string | readonly string[]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let batch = '';
  for (const piece of typeof text === 'string' ? [text] : text) {
    for (let start = 0; start < piece.length; ) {
      let end = Math.min(piece.length, start + PIECE_CHARS - batch.length);
      const last = piece.charCodeAt(end - 1);
      if (last >= 0xd800 && last <= 0xdbff && end < piece.length) end++; // never split a surrogate pair
      batch += piece.slice(start, end);
      start = end;
      if (batch.length >= PIECE_CHARS) {
        out.push(Buffer.from(batch));
        batch = '';
        if (sliceSpent(1)) await nextTurn();
      }
    }
  }
  if (batch !== '') out.push(Buffer.from(batch));
  return out;
}

/**
 * The pieces as a response body, each read when the socket has taken the previous ones. A Uint8Array or string
 * body would be copied whole into the Response first (undici's, with overrideGlobalObjects off). Between
 * pieces the event loop may turn (see SLICE_MS): when the socket takes every write at once (loopback, a fast
 * reader), the next piece would otherwise follow in the same turn, and the whole body with it.
 */
function bodyStream(pieces: readonly Buffer[]): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream({
    async pull(controller) {
      if (sliceSpent(1)) await nextTurn();
      if (next < pieces.length) controller.enqueue(pieces[next++]);
      if (next >= pieces.length) controller.close();
    },
  });
}
