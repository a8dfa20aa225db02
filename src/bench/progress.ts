/**
 * Live progress on stderr: one rewritten line on a TTY (every 250 ms), plain lines
 * otherwise (every 5 s). Shows done/total, req/s, errors and the current TTFT p50.
 */
import { performance } from 'node:perf_hooks';
import { percentileSorted, sortNumbers } from './stats.js';
import type { RequestRecord } from './types.js';

export interface ProgressOptions {
  out: { write(s: string): unknown };
  tty: boolean;
  total: number | null;
  durationMs: number | null;
  intervalMs?: number;
}

export class Progress {
  private done = 0;
  private errors = 0;
  private ttft: number[] = [];
  private start = performance.now();
  private timer: NodeJS.Timeout | null = null;
  private phase = '';

  private readonly o: ProgressOptions;

  constructor(o: ProgressOptions) {
    this.o = o;
  }

  setPhase(phase: 'warmup' | 'run' | 'collect'): void {
    this.phase = phase;
    if (phase === 'warmup') {
      this.write('warming up…');
    } else if (phase === 'run') {
      this.start = performance.now();
      this.timer ??= setInterval(() => this.write(this.line()), this.o.intervalMs ?? (this.o.tty ? 250 : 5000));
      this.timer.unref();
    } else {
      this.stop();
    }
  }

  record(r: RequestRecord): void {
    this.done++;
    if (!r.ok) this.errors++;
    else if (r.ttftMs !== null) this.ttft.push(r.ttftMs);
  }

  /** The current status line (no newline). */
  line(): string {
    const secs = (performance.now() - this.start) / 1000;
    const total = this.o.total !== null ? `/${this.o.total}` : '';
    const time = this.o.durationMs !== null ? ` ${secs.toFixed(0)}/${(this.o.durationMs / 1000).toFixed(0)}s` : ` ${secs.toFixed(0)}s`;
    const p50 = this.ttft.length > 0 ? percentileSorted(sortNumbers(this.ttft), 0.5) : null;
    return (
      `${this.done}${total} done${time}  ${(secs > 0 ? this.done / secs : 0).toFixed(1)} req/s  ` +
      `${this.errors} errors  TTFT p50 ${p50 === null ? '-' : `${p50.toFixed(1)} ms`}`
    );
  }

  private write(s: string): void {
    if (this.o.tty) this.o.out.write(`\r\x1b[K${s}`);
    else this.o.out.write(`${s}\n`);
  }

  stop(): void {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = null;
      if (this.phase !== 'warmup') this.write(this.line());
      if (this.o.tty) this.o.out.write('\n');
    }
  }
}
