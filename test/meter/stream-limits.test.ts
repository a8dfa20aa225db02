import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { MAX_EVENT_BYTES, StreamMeter } from '../../src/meter/stream-meter.js';
import { DONE, chunk, usageChunk } from './fixtures.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MiB = 1024 * 1024;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** An endless event, as the head that opens it and one 64 KiB piece repeated (the same Buffer: no garbage). */
const SHAPES = {
  'bytes with no newline': { head: 'data: ', piece: Buffer.alloc(64 * 1024, 'x'), end: '\n\n' },
  'data: lines with no blank line': { head: '', piece: Buffer.from('data: x\n'.repeat(8 * 1024)), end: '\n' },
  'CRLF data: lines with no blank line': { head: '', piece: Buffer.from('data: xy\r\n'.repeat(6 * 1024)), end: '\r\n' },
} as const;

describe('StreamMeter: an oversized event is not held, not parsed, and does not stop metering', () => {
  const before = chunk({ content: 'a' });
  const after = chunk({ content: 'b' }) + usageChunk(3, 2) + DONE;

  for (const [name, shape] of Object.entries(SHAPES)) {
    for (const strip of [true, false]) {
      it(`20 MiB of ${name}, strip ${strip}: every byte forwarded, held bytes and heap stay O(limit), next event metered`, () => {
        const m = new StreamMeter({ stripUsageChunk: strip });
        const inHash = createHash('sha256');
        const outHash = createHash('sha256');
        let inBytes = 0;
        let outBytes = 0;
        let maxHeld = 0;
        const push = (bytes: Uint8Array) => {
          const out = m.push(bytes, 1);
          inBytes += bytes.length;
          outBytes += out.length;
          inHash.update(bytes);
          outHash.update(out);
          maxHeld = Math.max(maxHeld, inBytes - outBytes);
        };
        push(Buffer.from(before));
        push(Buffer.from(shape.head));
        const heapBefore = heapAfterGc();
        const pieces = Math.ceil((20 * MiB) / shape.piece.length);
        for (let i = 0; i < pieces; i++) push(shape.piece);
        const heapGrowth = heapAfterGc() - heapBefore;
        push(Buffer.from(shape.end));
        const tail = Buffer.from(after);
        outHash.update(m.push(tail, 2));
        inHash.update(strip ? Buffer.from(after.replace(usageChunk(3, 2), '')) : tail);
        outHash.update(m.end());

        expect(outHash.digest('hex')).toBe(inHash.digest('hex'));
        expect(maxHeld).toBeLessThanOrEqual(MAX_EVENT_BYTES);
        expect(heapGrowth).toBeLessThan(4 * MiB);
        expect(m.facts.tokenEvents).toBe(2);
        expect(m.facts.lastTokenAt).toBe(2);
        expect(m.facts.usage).toEqual({ prompt: 3, completion: 2, cached: null, reasoning: null });
        expect(m.facts.strippedUsageChunks).toBe(strip ? 1 : 0);
        expect(m.facts.sawDone).toBe(true);
      });
    }
  }

  it('strip mode: the client gets the held head of an event as soon as it passes the limit', () => {
    const m = new StreamMeter({ stripUsageChunk: true });
    const piece = Buffer.alloc(100 * 1024, 'y');
    expect(m.push(Buffer.from('data: '), 0).length).toBe(0);
    expect(m.push(piece, 0).length).toBe(0);
    expect(m.push(piece, 0).length).toBe(0); // 200 KiB + 6: still under the limit, held
    const released = m.push(piece, 0);
    expect(released.length).toBe(6 + 3 * piece.length);
    expect(m.push(piece, 0)).toBe(piece); // the rest of it by identity
    expect(m.end().length).toBe(0);
  });
});

describe('StreamMeter: the limit is on the whole event, however the stream is cut', () => {
  /** A content chunk padded so the whole event, terminator included, is `size` bytes. */
  const eventOf = (size: number) => {
    const bare = chunk({ content: '' });
    return chunk({ content: 'z'.repeat(size - bare.length) });
  };

  it('an event of exactly MAX_EVENT_BYTES is metered; one byte more is forwarded unmetered, and the next event is metered', () => {
    for (const [size, tokens] of [
      [MAX_EVENT_BYTES, 2],
      [MAX_EVENT_BYTES + 1, 1],
    ] as const) {
      const text = eventOf(size) + chunk({ content: 'n' }) + DONE;
      const bytes = Buffer.from(text);
      expect(Buffer.byteLength(eventOf(size))).toBe(size);
      for (const cuts of [[], [10], [size - 1], [size - 1, size], [1000, 200_000, size + 5]]) {
        for (const strip of [true, false]) {
          const m = new StreamMeter({ stripUsageChunk: strip });
          const out: Uint8Array[] = [];
          let from = 0;
          for (const to of [...cuts, bytes.length]) {
            out.push(m.push(bytes.subarray(from, to), to));
            from = to;
          }
          out.push(m.end());
          expect(Buffer.concat(out).equals(bytes), `size ${size} cuts ${cuts}`).toBe(true);
          expect(m.facts.tokenEvents, `size ${size} cuts ${cuts}`).toBe(tokens);
          expect(m.facts.sawDone).toBe(true);
        }
      }
    }
  });

  it('an oversized usage-only chunk is not stripped (nor read): it cannot be the one tokentap asked for', () => {
    const big = usageChunk(1, 1, { padding: 'p'.repeat(MAX_EVENT_BYTES) });
    const m = new StreamMeter({ stripUsageChunk: true });
    const out = Buffer.from(m.push(Buffer.from(big + DONE), 0)).toString();
    expect(out === big + DONE).toBe(true); // not toBe: a failure would print 256 KiB
    expect(m.facts.usage).toBeNull();
    expect(m.facts.strippedUsageChunks).toBe(0);
  });
});
