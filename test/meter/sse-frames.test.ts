import { describe, expect, it } from 'vitest';
import { SseFramer } from '../../src/meter/sse-frames.js';

/** Every event end in `text` fed in pieces cut at `cuts`, as absolute offsets. */
function endsOf(text: string, cuts: number[], noCR: boolean): number[] {
  const bytes = Buffer.from(text);
  const framer = new SseFramer();
  const out: number[] = [];
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    for (const e of framer.scan(bytes.subarray(from, to), noCR)) out.push(from + e);
    from = to;
  }
  return out;
}

describe('SseFramer', () => {
  const lf = 'data: {"a":1}\n\n: comment\n\nevent: x\ndata: y\n\n\n\ndata: z\n';

  it('finds LF, CRLF and CR terminators', () => {
    expect(endsOf('data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: d\n', [], false)).toEqual([9, 20, 29]);
  });

  it('the LF-only fast scan finds the same ends as the byte loop, at every split offset', () => {
    const expected = endsOf(lf, [], false);
    expect(expected).toEqual([15, 26, 44, 45, 46]);
    for (let cut = 0; cut <= lf.length; cut++) {
      expect(endsOf(lf, [cut], true)).toEqual(expected);
      expect(endsOf(lf, [cut], false)).toEqual(expected);
    }
  });

  it('reports a pending CR so the caller knows the next piece may start with its LF', () => {
    const framer = new SseFramer();
    framer.scan(Buffer.from('data: a\r'));
    expect(framer.pendingCR).toBe(true);
    framer.scan(Buffer.from('\n'));
    expect(framer.pendingCR).toBe(false);
  });
});
