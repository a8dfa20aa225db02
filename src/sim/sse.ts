/**
 * SSE writing and token timing.
 *
 * Timing: token-bearing chunk k is due at origin + ttft + k * itl, where origin
 * is when the scheduler gave the request a batch slot (t0 when it did not have
 * to wait, see scheduler.ts); each send time is computed from the origin (no
 * accumulated timer error), and never sent early (timers
 * are re-checked against performance.now()). If a write was held up by
 * back-pressure the next due chunks go out as soon as the client drains.
 *
 * Each event is written with exactly one res.write(); when write() returns
 * false the writer waits for 'drain' (or the client going away) before the
 * next event, so a client that stops reading stops the generation.
 */
import { once } from 'node:events';
import { setImmediate as immediate, setTimeout as sleep } from 'node:timers/promises';
import type { ReqCtx } from './http.js';
import { errorBody, sendError } from './http.js';

/** Resolves true at `target` (performance.now() time), false if the signal aborts first. */
export async function sleepUntil(target: number, signal: AbortSignal): Promise<boolean> {
  try {
    let remaining = target - performance.now();
    if (remaining <= 0) {
      // Always yield to the event loop so a zero-delay stream cannot starve I/O.
      await immediate(undefined, { signal });
      return !signal.aborted;
    }
    while (remaining > 0) {
      await sleep(Math.ceil(remaining), undefined, { signal });
      remaining = target - performance.now();
    }
    return !signal.aborted;
  } catch {
    return false;
  }
}

/** Resolves when the signal aborts (client gone or simulator closing). */
export function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

export const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8' } as const;

export class EventWriter {
  private seq = 0;
  readonly weird: boolean;

  constructor(private readonly ctx: ReqCtx) {
    this.weird = ctx.ov.fault === 'weird-framing';
  }

  /** Send the 200 + SSE headers now (before any body byte). */
  open(): void {
    const { res } = this.ctx;
    if (!res.headersSent) {
      res.writeHead(200, SSE_HEADERS);
      res.flushHeaders();
    }
  }

  /** One res.write(); waits for drain under back-pressure. False if the client is gone. */
  async raw(text: string): Promise<boolean> {
    const { res, signal } = this.ctx;
    if (signal.aborted || res.destroyed) return false;
    if (!res.headersSent) res.writeHead(200, SSE_HEADERS);
    if (res.write(text)) return true;
    this.ctx.events.emit('backpressure', { id: this.ctx.id, at: performance.now() });
    try {
      await once(res, 'drain', { signal });
    } catch {
      return false;
    }
    this.ctx.events.emit('drain', { id: this.ctx.id, at: performance.now() });
    return !signal.aborted;
  }

  private frame(event: string | undefined, data: string): string {
    if (!this.weird) return (event === undefined ? '' : `event: ${event}\n`) + `data: ${data}\n\n`;
    const n = this.seq++;
    return `: tokentap-sim frame ${n}\r\nid: ${n}\r\nevent: ${event ?? 'message'}\r\ndata: ${data}\r\n\r\n`;
  }

  /** `data: <json>` event (chat / completions). */
  data(payload: unknown): Promise<boolean> {
    return this.raw(this.frame(undefined, typeof payload === 'string' ? payload : JSON.stringify(payload)));
  }

  /** `event: <type>` + `data: <json>` event (responses). */
  named(type: string, payload: unknown): Promise<boolean> {
    return this.raw(this.frame(type, JSON.stringify(payload)));
  }

  done(): Promise<boolean> {
    return this.data('[DONE]');
  }

  /** weird-framing: one event whose data is not JSON. */
  junk(event?: string): Promise<boolean> {
    return this.raw(this.frame(event, 'not-json'));
  }

  end(): void {
    const { res } = this.ctx;
    if (!res.destroyed && !res.writableEnded) res.end();
  }
}

export type StreamFaultAction = 'inband-error' | 'die' | 'stall';

export function streamFault(ctx: ReqCtx): StreamFaultAction | undefined {
  const f = ctx.ov.fault;
  return f === 'inband-error' || f === 'die' || f === 'stall' ? f : undefined;
}

export type SlotsResult = 'ok' | 'gone' | 'faulted';

/**
 * Send `count` token-bearing slots on the ttft/itl schedule. A stream fault
 * (inband-error / die / stall) fires at the time slot `faultAfter` is due (or
 * right after the last slot when faultAfter >= count); `onInbandError` writes
 * the endpoint's in-band error and ends the response.
 */
export async function runSlots(
  ctx: ReqCtx,
  w: EventWriter,
  count: number,
  onSlot: (k: number) => Promise<boolean>,
  onInbandError: () => Promise<void>,
  junkEvent?: string,
): Promise<SlotsResult> {
  const fault = streamFault(ctx);
  const { ttftMs, itlMs, faultAfter } = ctx.ov;
  const { engine } = ctx;
  const origin = await engine.admit(ctx.signal);
  if (origin === undefined) return 'gone';
  for (let k = 0; k < count; k++) {
    const due = origin + ttftMs + k * itlMs;
    if (!(await sleepUntil(due, ctx.signal))) return 'gone';
    if (fault && k === faultAfter) {
      engine.abort(); // the generation stops here; the fault is what the client sees
      return applyStreamFault(ctx, fault, onInbandError);
    }
    // The engine generated slot k at its due time, even if a slow client receives it later.
    engine.step(k, due);
    if (k === count - 1) engine.finish();
    if (!(await onSlot(k))) return 'gone';
    if (w.weird && k === 0 && !(await w.junk(junkEvent))) return 'gone';
  }
  if (fault && faultAfter >= count) return applyStreamFault(ctx, fault, onInbandError);
  return 'ok';
}

async function applyStreamFault(ctx: ReqCtx, fault: StreamFaultAction, onInbandError: () => Promise<void>): Promise<SlotsResult> {
  if (fault === 'die') ctx.die();
  else if (fault === 'stall') await waitForAbort(ctx.signal);
  else await onInbandError();
  return 'faulted';
}

export const INBAND_ERROR_MESSAGE = 'Simulated generation failure (tokentap sim fault inband-error)';

/** chat / completions in-band error: `data: {"error": {...}}` then `data: [DONE]`. */
export async function writeInbandError(w: EventWriter): Promise<void> {
  if (await w.data(errorBody(500, INBAND_ERROR_MESSAGE))) {
    if (await w.done()) w.end();
  }
}

/**
 * Non-streaming timing: the body is sent when the last token would have been
 * generated (t0 + ttft + (count - 1) * itl). Stream faults map to: die →
 * socket destroyed, stall → no response, inband-error → HTTP 500 (at the time
 * slot `faultAfter` is due). Returns true when the caller should send the body.
 */
export async function holdNonStreaming(ctx: ReqCtx, count: number): Promise<boolean> {
  const fault = streamFault(ctx);
  const last = Math.max(0, count - 1);
  const at = fault ? Math.min(ctx.ov.faultAfter, last) : last;
  const { engine } = ctx;
  const origin = await engine.admit(ctx.signal);
  if (origin === undefined) return false;
  // Step through every slot so the engine's gauges and counters move while the body is held back.
  const faultAt = fault ? ctx.ov.faultAfter : Infinity;
  for (let k = 0; k <= at; k++) {
    const due = origin + ctx.ov.ttftMs + k * ctx.ov.itlMs;
    // A slot already due is stepped at once (an instant answer yields once, at the last slot, not per token).
    if ((k === at || due > performance.now()) && !(await sleepUntil(due, ctx.signal))) return false;
    if (k === faultAt) break;
    engine.step(k, due);
    if (k === count - 1) engine.finish();
  }
  engine.abort(); // no-op once finished; a fault stops the generation early
  if (fault === 'die') {
    ctx.die();
    return false;
  }
  if (fault === 'stall') {
    await waitForAbort(ctx.signal);
    return false;
  }
  if (fault === 'inband-error') {
    sendError(ctx.res, 500, INBAND_ERROR_MESSAGE);
    return false;
  }
  return true;
}
