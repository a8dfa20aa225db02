/**
 * A toy vLLM scheduler: at most `maxNumSeqs` generation requests run at once
 * (0 = unlimited); the rest wait in FIFO order. A request's token schedule
 * (ttft, itl) starts when it is scheduled, not when it arrived, so queueing
 * shows up in the client's TTFT exactly as it does on a saturated vLLM, and
 * the engine-side histograms (vllm-metrics.ts) can be compared with tokentap's.
 *
 * KV cache: usage = tokens held by running requests (prompt + generated so far)
 * / kvCacheTokens, capped at 1. It is reported only: the simulator neither
 * queues nor preempts on a full cache (vLLM would).
 */
import type { SlotPlan } from './tokens.js';
import { VllmMetrics, type EngineFinishReason } from './vllm-metrics.js';

export class Scheduler {
  readonly metrics: VllmMetrics;
  private readonly runningSet = new Set<EngineRequest>();
  private readonly queue: Array<{ req: EngineRequest; grant: () => void }> = [];

  constructor(
    readonly maxNumSeqs: number,
    readonly kvCacheTokens: number,
    model: string,
    maxModelLen: number,
  ) {
    this.metrics = new VllmMetrics(model, maxModelLen, {
      running: () => this.runningSet.size,
      waiting: () => this.queue.length,
      kvCacheUsage: () => this.kvCacheUsage(),
    });
  }

  get running(): number {
    return this.runningSet.size;
  }

  get waiting(): number {
    return this.queue.length;
  }

  kvCacheUsage(): number {
    let tokens = 0;
    for (const r of this.runningSet) tokens += r.kvTokens();
    return Math.min(1, tokens / this.kvCacheTokens);
  }

  /** A request that arrived (body read) at `arrival` (performance.now()). */
  request(arrival: number): EngineRequest {
    return new EngineRequest(this, arrival);
  }

  private hasRoom(): boolean {
    return this.maxNumSeqs === 0 || this.runningSet.size < this.maxNumSeqs;
  }

  /** @internal Resolves with the scheduled time, or undefined if the signal aborts while waiting. */
  admit(req: EngineRequest, signal: AbortSignal): Promise<number | undefined> | number | undefined {
    if (signal.aborted) return undefined;
    // FIFO: a newcomer never overtakes a waiting request.
    if (this.queue.length === 0 && this.hasRoom()) {
      this.runningSet.add(req);
      return req.arrival; // no wait: the schedule keeps the arrival as its origin, as before queueing existed
    }
    return new Promise((resolve) => {
      const entry = {
        req,
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          this.runningSet.add(req);
          resolve(performance.now());
        },
      };
      const onAbort = (): void => {
        const i = this.queue.indexOf(entry);
        if (i >= 0) this.queue.splice(i, 1);
        resolve(undefined);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(entry);
    });
  }

  /** @internal A running request left the batch: hand its slot(s) to the waiting ones in arrival order. */
  release(req: EngineRequest): void {
    if (!this.runningSet.delete(req)) return;
    while (this.queue.length > 0 && this.hasRoom()) this.queue.shift()!.grant();
  }
}

type State = 'new' | 'waiting' | 'running' | 'done';

/**
 * One generation request's life in the engine: plan → admit (maybe wait) →
 * token steps → finish (or abort). Handlers that never call plan() (embeddings)
 * bypass the scheduler and the metrics.
 */
export class EngineRequest {
  private state: State = 'new';
  private slots: SlotPlan | undefined;
  private promptTokens = 0;
  private generated = 0;
  private scheduled = 0;
  private firstToken: number | undefined;
  private lastToken = 0;
  /** The model the request names: the simulator serves any, and labels its metrics with it. */
  private model = '';

  constructor(
    private readonly sched: Scheduler,
    readonly arrival: number,
  ) {}

  /** The handler's output plan: what the engine will generate for this request. */
  plan(promptTokens: number, slots: SlotPlan, model: string): void {
    this.promptTokens = promptTokens;
    this.slots = slots;
    this.model = model;
  }

  kvTokens(): number {
    return this.promptTokens + this.generated;
  }

  /**
   * Wait for a batch slot. Resolves with the origin of the token schedule (the
   * scheduled time), or undefined when the client went away while waiting.
   */
  async admit(signal: AbortSignal): Promise<number | undefined> {
    if (!this.slots || this.state !== 'new') return this.arrival;
    this.state = 'waiting';
    const at = await this.sched.admit(this, signal);
    if (at === undefined || this.state !== 'waiting') {
      if (at !== undefined) this.sched.release(this); // aborted while the grant was on its way
      this.state = 'done';
      return undefined;
    }
    this.state = 'running';
    this.scheduled = at;
    this.sched.metrics.scheduled(this.model, this.promptTokens, this.slots.plan.cachedTokens);
    return at;
  }

  /** Token slot k was generated at `at` (its due time on the schedule). */
  step(k: number, at: number): void {
    if (this.state !== 'running' || !this.slots) return;
    const tokens = this.slots.slot(k).tokens;
    this.generated += tokens;
    if (this.firstToken === undefined) {
      this.firstToken = at;
      this.sched.metrics.firstToken(this.model, at - this.arrival, this.promptTokens, tokens);
    } else {
      this.sched.metrics.nextToken(this.model, at - this.lastToken, tokens);
    }
    this.lastToken = at;
  }

  /** The last token was generated: the request leaves the batch with the plan's finish reason. */
  finish(): void {
    if (this.state !== 'running' || !this.slots) return;
    this.state = 'done';
    this.sched.release(this);
    const reason: EngineFinishReason = this.slots.plan.finishReason;
    this.sched.metrics.finished(this.model, {
      arrival: this.arrival,
      scheduled: this.scheduled,
      firstToken: this.firstToken ?? this.lastToken,
      lastToken: this.lastToken,
      promptTokens: this.promptTokens,
      generationTokens: this.generated,
      reason,
    });
  }

  /**
   * Cut short (client gone, a stream fault, close()). Only the slot is freed: vLLM's client-abort path records
   * no finished-request stats, so request_success_total{finished_reason="abort"} stays as it is. Idempotent.
   */
  abort(): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.sched.release(this);
  }
}
