/**
 * Finds SSE event boundaries (a blank line: two line terminators, each CRLF, LF or CR) in a byte stream
 * that arrives in arbitrary pieces. Pure and incremental: it only reports offsets, it never copies.
 */

const LF = 10;
const CR = 13;

export class SseFramer {
  /** The previous byte was CR (a following LF belongs to the same terminator). */
  private lastWasCR = false;
  /** The current line is empty so far (we are just after a line terminator, or at stream start). */
  private atLineStart = false;

  /** The last byte scanned was CR (an LF starting the next piece completes that terminator). */
  get pendingCR(): boolean {
    return this.lastWasCR;
  }

  /**
   * Scans `chunk` and returns the offsets just past each event terminator found in it (ascending).
   * Bytes after the last offset belong to an event that is not complete yet. `noCR`: the caller knows
   * the chunk holds no CR and none is pending, so only LFs need finding (native search instead of a loop).
   */
  scan(chunk: Uint8Array, noCR = false): number[] {
    if (noCR) return this.scanLf(chunk);
    const ends: number[] = [];
    let { lastWasCR, atLineStart } = this;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === LF) {
        if (lastWasCR) {
          lastWasCR = false;
          // CRLF: the LF completes a terminator already counted; keep it with the event it ends.
          if (ends.length > 0 && ends[ends.length - 1] === i) ends[ends.length - 1] = i + 1;
          continue;
        }
        if (atLineStart) ends.push(i + 1);
        atLineStart = true;
      } else if (b === CR) {
        if (atLineStart) ends.push(i + 1);
        atLineStart = true;
        lastWasCR = true;
      } else {
        lastWasCR = false;
        atLineStart = false;
      }
    }
    this.lastWasCR = lastWasCR;
    this.atLineStart = atLineStart;
    return ends;
  }

  private scanLf(chunk: Uint8Array): number[] {
    const ends: number[] = [];
    const atLineStart = this.atLineStart;
    for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, i + 1)) {
      if (i === 0 ? atLineStart : chunk[i - 1] === LF) ends.push(i + 1);
    }
    if (chunk.length > 0) this.atLineStart = chunk[chunk.length - 1] === LF;
    return ends;
  }
}
