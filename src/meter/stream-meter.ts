/**
 * The streaming meter: fed the upstream's SSE bytes and the time each piece arrived, it records token-event
 * timings, usage, errors and [DONE]; in strip mode it also removes the usage-only chunk (`choices: []`)
 * that tokentap injected, forwarding every other byte as received. Pure: no I/O, no timers, no clock.
 */
import { createParser, type EventSourceParser } from 'eventsource-parser';
import { inspectEvent } from './sse-event.js';
import { SseFramer } from './sse-frames.js';
import type { Usage } from './usage.js';

export interface StreamFacts {
  tokenEvents: number;
  firstTokenAt: number | null;
  lastTokenAt: number | null;
  firstContentAt: number | null;
  /** Gaps between consecutive token events, ms, one per gap. */
  itlMs: number[];
  usage: Usage | null;
  inbandError: boolean;
  sawDone: boolean;
  strippedUsageChunks: number;
}

const EMPTY = new Uint8Array(0);

export class StreamMeter {
  readonly facts: StreamFacts = {
    tokenEvents: 0,
    firstTokenAt: null,
    lastTokenAt: null,
    firstContentAt: null,
    itlMs: [],
    usage: null,
    inbandError: false,
    sawDone: false,
    strippedUsageChunks: 0,
  };
  private readonly decoder = new TextDecoder('utf-8');
  private readonly parser: EventSourceParser;
  private readonly framer: SseFramer | null;
  private held: Uint8Array[] = [];
  private now = 0;
  private dropEvent = false;

  constructor(options: { stripUsageChunk: boolean }) {
    this.framer = options.stripUsageChunk ? new SseFramer() : null;
    this.parser = createParser({ onEvent: (e) => this.onEvent(e.event, e.data) });
  }

  /** Feeds bytes that arrived at `now` (ms); returns the bytes to forward to the client. */
  push(chunk: Uint8Array, now: number): Uint8Array {
    this.now = now;
    if (this.framer === null) {
      this.parser.feed(this.decoder.decode(chunk, { stream: true }));
      return chunk;
    }
    return this.pushFramed(chunk, this.framer);
  }

  /** End of the upstream body: returns bytes still held (an unterminated last event), to forward as they are. */
  end(): Uint8Array {
    const rest = this.held.length === 0 ? EMPTY : concat(this.held);
    this.held = [];
    return rest;
  }

  private pushFramed(chunk: Uint8Array, framer: SseFramer): Uint8Array {
    const ends = framer.scan(chunk);
    if (ends.length === 0) {
      this.parser.feed(this.decoder.decode(chunk, { stream: true }));
      this.held.push(chunk);
      return EMPTY;
    }
    const hadHeld = this.held.length > 0;
    const kept: Uint8Array[] = [];
    let dropped = false;
    let start = 0;
    for (const end of ends) {
      const piece = chunk.subarray(start, end);
      this.dropEvent = false;
      this.parser.feed(this.decoder.decode(piece, { stream: true }));
      if (this.dropEvent) {
        dropped = true;
        this.held = [];
      } else {
        if (this.held.length > 0) kept.push(...this.held);
        this.held = [];
        kept.push(piece);
      }
      start = end;
    }
    if (start < chunk.length) {
      const tail = chunk.subarray(start);
      this.parser.feed(this.decoder.decode(tail, { stream: true }));
      this.held.push(tail);
    }
    if (!dropped && !hadHeld && start === chunk.length) return chunk;
    if (kept.length === 0) return EMPTY;
    return kept.length === 1 ? kept[0] : concat(kept);
  }

  private onEvent(eventName: string | undefined, data: string): void {
    const facts = inspectEvent(eventName, data);
    const f = this.facts;
    if (facts.done) f.sawDone = true;
    if (facts.error) f.inbandError = true;
    if (facts.usage) f.usage = facts.usage;
    if (facts.usageOnly && this.framer !== null) {
      this.dropEvent = true;
      f.strippedUsageChunks++;
    }
    if (facts.token) {
      const now = this.now;
      if (f.lastTokenAt === null) f.firstTokenAt = now;
      else f.itlMs.push(now - f.lastTokenAt);
      f.lastTokenAt = now;
      f.tokenEvents++;
      if (facts.content && f.firstContentAt === null) f.firstContentAt = now;
    }
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
