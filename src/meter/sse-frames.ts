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

  /**
   * Scans `chunk` and returns the offsets just past each event terminator found in it (ascending).
   * Bytes after the last offset belong to an event that is not complete yet.
   */
  scan(chunk: Uint8Array): number[] {
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
}
