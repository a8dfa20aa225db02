/** The text exposition rendered in short slices of the event loop, which it shares with the relayed streams. */

/**
 * The metrics port shares the event loop that relays streams: a render of tens of thousands of series in one
 * synchronous pass stalled every proxied request for its whole duration (7.3 MB in 105 ms). Long loops over
 * series (the text render, and `get()` for a cluster worker's report) run in slices of at most this long, then
 * let the event loop turn. 2 ms is well under a token gap, and a setImmediate round trip (~10-50 µs) per slice
 * costs the render a few percent.
 */
export const SLICE_MS = 2;
/** The clock is read every this many steps, not at each: a counter's step is one short line. */
const STEPS_PER_CHECK = 32;
/**
 * The rendered text's pieces are about this long: large enough to be allocated outside V8's young generation
 * (over 128 KiB), so that the megabytes held until the response is written are not copied by every scavenge
 * meanwhile (that made pauses of 5 ms and more); small enough that joining one takes a fraction of a slice.
 */
const PIECE_CHARS = 256 * 1024;

// One budget for the whole process, not one per loop: prom-client runs every metric's `get()` at once, and
// per-loop budgets would add up to one slice per metric within a single turn of the event loop.
let sliceStart = performance.now();
let steps = 0;
let turn: Promise<void> | null = null;

/** One step of a long loop: true when the current slice is spent and the caller must `await nextTurn()`.
 * `stepsPerCheck`: 1 for steps that are long themselves. */
export function sliceSpent(stepsPerCheck = STEPS_PER_CHECK): boolean {
  return ++steps % stepsPerCheck === 0 && performance.now() - sliceStart >= SLICE_MS;
}

/** Resolves after the event loop has turned (I/O polled); every loop waiting on it resumes in a new slice. */
export function nextTurn(): Promise<void> {
  return (turn ??= new Promise((resolve) =>
    setImmediate(() => {
      turn = null;
      sliceStart = performance.now();
      resolve();
    }),
  ));
}

/** A metric whose text exposition comes in parts: the HELP and TYPE lines, then one part per series. */
export interface ExpositionParts {
  /** Each part is built in one synchronous step, so one series is self-consistent (its buckets, sum, count).
   * `openMetrics`: in the OpenMetrics 1.0 format (counter family names without `_total`, exemplars). */
  expositionParts(openMetrics?: boolean): Iterable<string>;
}

/**
 * The text of these metrics, separated by blank lines and followed by a newline, built in slices (see
 * SLICE_MS), in pieces: their concatenation is `metrics.map((m) => [...m.expositionParts()].join('\n'))
 * .join('\n\n') + '\n'`. Pieces, not one string: joining megabytes into one would be a stall of its own.
 * Series created or changed between slices appear as they are when their part is built.
 * `openMetrics`: each metric's OpenMetrics parts, with no blank line between metrics (OpenMetrics has none);
 * the caller ends the whole exposition with `# EOF`.
 */
export async function renderExposition(metrics: readonly ExpositionParts[], openMetrics = false): Promise<string[]> {
  const pieces: string[] = [];
  let parts: string[] = [];
  let chars = 0;
  const flush = () => {
    pieces.push(`${parts.join('\n')}\n`);
    parts = [];
    chars = 0;
  };
  for (let i = 0; i < metrics.length; i++) {
    if (i > 0 && !openMetrics) parts.push(''); // the blank line between two metrics
    for (const part of metrics[i].expositionParts(openMetrics)) {
      parts.push(part);
      chars += part.length;
      if (chars >= PIECE_CHARS) flush();
      if (sliceSpent()) await nextTurn();
    }
  }
  if (parts.length > 0) flush();
  return pieces;
}
