/**
 * The streaming meter: fed the upstream's SSE bytes and the time each piece arrived, it records token-event
 * timings, usage, errors and [DONE]; in strip mode it also removes the usage-only chunk (`choices: []`)
 * that tokentap injected, forwarding every other byte as received. Pure: no I/O, no timers, no clock.
 */
import { createParser, type EventSourceParser } from 'eventsource-parser';
import { TextDecoder } from 'node:util';
import { inspectCompactChunk, inspectEvent, inspectEventParsed, type EventFacts } from './sse-event.js';
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
const LF = 10;
const CR = 13;

/**
 * What a complete event `data: <payload>\n\n` (one data line, LF framing) at [start, end) of `buf` says,
 * read from the bytes; null when the event has any other shape (it then goes through eventsource-parser).
 */
function singleDataLine(buf: Buffer, start: number, end: number): EventFacts | null {
  if (
    end - start < 7 ||
    buf[start] !== 100 /* d */ ||
    buf[start + 1] !== 97 /* a */ ||
    buf[start + 2] !== 116 /* t */ ||
    buf[start + 3] !== 97 /* a */ ||
    buf[start + 4] !== 58 /* : */ ||
    buf.indexOf(LF, start) !== end - 2
  ) {
    return null;
  }
  const from = buf[start + 5] === 32 ? start + 6 : start + 5;
  return inspectCompactChunk(buf, from, end - 2) ?? inspectEventParsed(undefined, buf.toString('utf8', from, end - 2));
}

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
  /** Created on the first event the byte path does not read (most streams never need them). */
  private decoder: TextDecoder | null = null;
  private parser: EventSourceParser | null = null;
  private readonly framer = new SseFramer();
  private readonly strip: boolean;
  /** Strip mode: bytes of the event not complete yet, held until we know whether it is dropped. */
  private held: Uint8Array[] = [];
  /** The parser has been fed part of an event that has not ended yet. */
  private midEvent = false;
  private now = 0;
  private dropEvent = false;

  constructor(options: { stripUsageChunk: boolean }) {
    this.strip = options.stripUsageChunk;
  }

  /**
   * Feeds bytes that arrived at `now` (ms); returns the bytes to forward to the client (the same chunk
   * unless strip mode removed or held something).
   *
   * Events are delimited on the bytes. A complete single-line `data:` event (the usual chunk) is read
   * straight from the bytes; anything else (other fields, comments, CR framing, an event split across
   * chunks) goes through eventsource-parser, which then always starts at an event boundary.
   */
  push(chunk: Uint8Array, now: number): Uint8Array {
    this.now = now;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const lfOnly = !this.framer.pendingCR && buf.indexOf(CR) === -1;
    const ends = this.framer.scan(buf, lfOnly);
    // Strip mode output: `kept` is only built once something is dropped or was held; until then the
    // forwarded bytes are the contiguous region [keptFrom, start) of this chunk.
    let kept: Uint8Array[] | null = null;
    let keptFrom = 0;
    let start = 0;
    for (let i = 0; i < ends.length; i++) {
      const end = ends[i];
      this.dropEvent = false;
      const facts = lfOnly && !this.midEvent ? singleDataLine(buf, start, end) : null;
      if (facts !== null) this.apply(facts);
      else this.feedParser(buf, start, end);
      this.midEvent = false;
      if (this.strip) {
        if (this.dropEvent) {
          kept ??= [];
          if (start > keptFrom) kept.push(buf.subarray(keptFrom, start));
          keptFrom = end;
        } else if (this.held.length > 0) {
          kept = [...this.held]; // the head of this event came in earlier chunks (only the first event here)
        }
        this.held = [];
      }
      start = end;
    }
    if (start < buf.length) {
      this.feedParser(buf, start, buf.length);
      this.midEvent = true;
      if (this.strip) this.held.push(buf.subarray(start));
    }
    if (!this.strip || (kept === null && keptFrom === 0 && start === buf.length)) return chunk;
    if (start > keptFrom) (kept ??= []).push(keptFrom === 0 && start === buf.length ? chunk : buf.subarray(keptFrom, start));
    if (kept === null || kept.length === 0) return EMPTY;
    return kept.length === 1 ? kept[0] : Buffer.concat(kept);
  }

  /** End of the upstream body: returns bytes still held (an unterminated last event), to forward as they are. */
  end(): Uint8Array {
    const rest = this.held.length === 0 ? EMPTY : Buffer.concat(this.held);
    this.held = [];
    return rest;
  }

  private feedParser(buf: Buffer, start: number, end: number): void {
    this.decoder ??= new TextDecoder('utf-8');
    this.parser ??= createParser({ onEvent: (e) => this.apply(inspectEvent(e.event, e.data)) });
    this.parser.feed(this.decoder.decode(buf.subarray(start, end), { stream: true }));
  }

  private apply(facts: EventFacts): void {
    const f = this.facts;
    if (facts.done) f.sawDone = true;
    if (facts.error) f.inbandError = true;
    if (facts.usage) f.usage = facts.usage;
    if (facts.usageOnly && this.strip) {
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
