/**
 * The streaming meter: fed the upstream's SSE bytes and the time each piece arrived, it records token-event
 * timings, usage, errors and [DONE]; in strip mode it also removes the usage-only chunk (`choices: []`)
 * that tokentap injected, forwarding every other byte as received. What it keeps per stream is bounded by
 * MAX_EVENT_BYTES whatever the upstream sends. Pure: no I/O, no timers, no clock.
 */
import { createParser, type EventSourceParser } from 'eventsource-parser';
import { TextDecoder } from 'node:util';
import { inspectCompactChunk, inspectEvent, inspectEventParsed, type EventFacts } from './sse-event.js';
import { SseFramer } from './sse-frames.js';
import type { Usage } from './usage.js';

/**
 * Live metering: what a stream says as it passes, so that TTFT, ITL and token counts are observed when they
 * happen rather than when the stream ends. Memory per stream stays constant in its length (no list of gaps).
 */
export interface TokenObserver {
  /** A token event arrived at `now` (ms); `gapMs` since the previous one, null for the first (TTFT). */
  tokenEvent(now: number, gapMs: number | null): void;
  /** The first event with content arrived at `now` (ms). */
  firstContent(now: number): void;
}

export interface StreamFacts {
  tokenEvents: number;
  firstTokenAt: number | null;
  lastTokenAt: number | null;
  firstContentAt: number | null;
  /** The last usage the stream reported (null when the last usage object was rejected, see usageRejected). */
  usage: Usage | null;
  /** Some event carried a usage object whose counts cannot be true (checkUsage); it counted as no usage. */
  usageRejected: boolean;
  inbandError: boolean;
  sawDone: boolean;
  strippedUsageChunks: number;
}

/**
 * Largest event that is metered, in bytes including its terminating blank line. A bigger one (a hostile or
 * broken upstream: endless bytes with no newline, endless `data:` lines with no blank line) is not metered:
 * the parser drops it and its bytes are forwarded as they come instead of being held, so what a stream
 * keeps stays below this limit. Real events are far smaller (a usage-only chunk is a few hundred bytes),
 * except Responses' `*.done` and `response.completed` events, which repeat the whole output: a Responses
 * stream with an output beyond the limit loses its reported usage and is estimated from its deltas.
 */
export const MAX_EVENT_BYTES = 256 * 1024;

/**
 * With include_usage on, the OpenAI API puts `"usage":null` on every chunk (`…,"usage":null}`, or followed by
 * `"obfuscation"`); vLLM does not. When tokentap turned usage on, that member is its doing: strip mode removes
 * exactly these bytes, so the client sees the chunks it would have seen. The bytes `,"usage":null` followed by
 * `}` or `,` can only be a member (inside a JSON string the quotes would be escaped); one search per event,
 * backwards from its end, in strip mode only.
 */
const USAGE_NULL_MEMBER = Buffer.from(',"usage":null');

/** Where the last `,"usage":null` member of the event at [start, end) begins, or -1. */
function usageNullAt(buf: Buffer, start: number, end: number): number {
  const at = buf.lastIndexOf(USAGE_NULL_MEMBER, end - USAGE_NULL_MEMBER.length - 1);
  if (at < start) return -1;
  const next = buf[at + USAGE_NULL_MEMBER.length];
  return next === 0x7d /* } */ || next === 0x2c /* , */ ? at : -1;
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
    usage: null,
    usageRejected: false,
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
  /** Bytes of the event not complete yet that came in earlier pieces (more than MAX_EVENT_BYTES: oversized). */
  private eventBytes = 0;
  private now = 0;
  private dropEvent = false;

  /** Told of each token event and of the first content event as they pass (live metering); optional. */
  private readonly observer: TokenObserver | null;

  constructor(options: { stripUsageChunk: boolean; observer?: TokenObserver }) {
    this.strip = options.stripUsageChunk;
    this.observer = options.observer ?? null;
  }

  /**
   * Feeds bytes that arrived at `now` (ms); returns the bytes to forward to the client (the same chunk
   * unless strip mode removed or held something).
   *
   * Events are delimited on the bytes. A complete single-line `data:` event (the usual chunk) is read
   * straight from the bytes; anything else (other fields, comments, CR framing, an event split across
   * chunks) goes through eventsource-parser, which then always starts at an event boundary. An event over
   * MAX_EVENT_BYTES is not metered, whether it arrives whole or in pieces (the same facts however the
   * stream is cut); once one is known to be over, nothing of it is held or parsed any more.
   */
  push(chunk: Uint8Array, now: number): Uint8Array {
    this.now = now;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const lfOnly = !this.framer.pendingCR && buf.indexOf(CR) === -1;
    const ends = this.framer.scan(buf, lfOnly);
    // Strip mode output: `kept` is only built once something is dropped or was held; until then the
    // forwarded bytes are the contiguous region [keptFrom, forwardTo) of this chunk.
    let kept: Uint8Array[] | null = null;
    let keptFrom = 0;
    let start = 0;
    let carried = this.eventBytes; // bytes of the first event here that came in earlier pieces
    for (let i = 0; i < ends.length; i++) {
      const end = ends[i];
      this.dropEvent = false;
      if (end - start + carried > MAX_EVENT_BYTES) {
        this.abandonEvent();
      } else {
        const facts = lfOnly && !this.midEvent ? singleDataLine(buf, start, end) : null;
        if (facts !== null) this.apply(facts);
        else this.feedParser(buf, start, end);
      }
      carried = 0;
      this.midEvent = false;
      if (this.strip) {
        if (this.dropEvent) {
          kept ??= [];
          if (start > keptFrom) kept.push(buf.subarray(keptFrom, start));
          keptFrom = end;
        } else if (this.held.length > 0) {
          // the head of this event came in earlier chunks (only the first event here): look at it whole
          const whole = Buffer.concat([...this.held, buf.subarray(start, end)]);
          const cut = usageNullAt(whole, 0, whole.length);
          if (cut < 0) kept = [...this.held];
          else {
            kept = [whole.subarray(0, cut), whole.subarray(cut + USAGE_NULL_MEMBER.length)];
            keptFrom = end;
          }
        } else {
          const cut = usageNullAt(buf, start, end);
          if (cut >= 0) {
            kept ??= [];
            if (cut > keptFrom) kept.push(buf.subarray(keptFrom, cut));
            keptFrom = cut + USAGE_NULL_MEMBER.length;
          }
        }
        this.held = [];
      }
      start = end;
    }
    let forwardTo = start;
    if (start < buf.length) {
      carried += buf.length - start;
      if (carried <= MAX_EVENT_BYTES) {
        this.feedParser(buf, start, buf.length);
        this.midEvent = true;
        if (this.strip) this.held.push(buf.subarray(start));
      } else {
        // Oversized: it cannot be the usage-only chunk, so what was held goes out now, and the rest of it as it comes.
        this.abandonEvent();
        forwardTo = buf.length;
        if (this.held.length > 0) {
          kept = this.held; // only when no event ended here (an ending event empties `held`)
          this.held = [];
        }
      }
    }
    this.eventBytes = carried;
    if (!this.strip || (kept === null && keptFrom === 0 && forwardTo === buf.length)) return chunk;
    if (forwardTo > keptFrom) (kept ??= []).push(keptFrom === 0 && forwardTo === buf.length ? chunk : buf.subarray(keptFrom, forwardTo));
    if (kept === null || kept.length === 0) return EMPTY;
    return kept.length === 1 ? kept[0] : Buffer.concat(kept);
  }

  /** End of the upstream body: returns bytes still held (an unterminated last event), to forward as they are. */
  end(): Uint8Array {
    const rest = this.held.length === 0 ? EMPTY : Buffer.concat(this.held);
    this.held = [];
    return rest;
  }

  /** The current event is over MAX_EVENT_BYTES: the parser forgets what it was fed of it (it is not metered). */
  private abandonEvent(): void {
    if (!this.midEvent) return;
    this.midEvent = false;
    this.parser!.reset();
    this.decoder!.decode(); // drops a partial UTF-8 sequence left by the last piece fed
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
    else if (facts.usageRejected) {
      // The latest accounting is not believable, so an earlier (cumulative, smaller) one is not the total.
      f.usage = null;
      f.usageRejected = true;
    }
    if (facts.usageOnly && this.strip) {
      this.dropEvent = true;
      f.strippedUsageChunks++;
    }
    if (facts.token) {
      const now = this.now;
      const gap = f.lastTokenAt === null ? null : now - f.lastTokenAt;
      if (gap === null) f.firstTokenAt = now;
      f.lastTokenAt = now;
      f.tokenEvents++;
      this.observer?.tokenEvent(now, gap);
      if (facts.content && f.firstContentAt === null) {
        f.firstContentAt = now;
        this.observer?.firstContent(now);
      }
    }
  }
}
