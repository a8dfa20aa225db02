/**
 * client_send_timeout: a client that accepts no bytes for that long while tokentap has more for it is given
 * up on, so a reader that stopped cannot hold an upstream stream (and a GPU slot) for ever. One timer per
 * response, armed on the first pause and re-armed only while the client stays paused; a drain just
 * clears a timestamp (back-pressure can pause and drain on every chunk).
 */
export interface SendTimeoutTarget {
  sendTimedOut(): void;
}

export class SendTimer {
  /** When the client's socket last became full (ms, performance.now()); -1 while it is accepting. */
  private pausedAt = -1;
  private timer: NodeJS.Timeout | null = null;
  private readonly check = () => {
    this.timer = null;
    if (this.pausedAt < 0) return;
    const left = this.pausedAt + this.timeoutMs - performance.now();
    if (left <= 0) this.target.sendTimedOut();
    else this.arm(left);
  };

  constructor(
    private readonly timeoutMs: number,
    private readonly target: SendTimeoutTarget,
  ) {}

  /** The client's socket is full. */
  paused(): void {
    if (this.pausedAt >= 0) return;
    this.pausedAt = performance.now();
    if (this.timer === null) this.arm(this.timeoutMs);
  }

  /** The client's socket drained. */
  drained(): void {
    this.pausedAt = -1;
  }

  stop(): void {
    this.pausedAt = -1;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(this.check, Math.max(1, ms));
    this.timer.unref();
  }
}
