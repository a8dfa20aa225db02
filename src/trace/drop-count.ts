/**
 * Counting the spans that are never exported. The SDK's BatchSpanProcessor drops a span silently when its
 * queue is full (the collector is down or slow), and a failed export loses its batch: both are counted here
 * (tokentap_trace_spans_dropped_total), by a processor in front of the batch processor and an exporter behind
 * it that together know how many spans wait in the queue. Loaded only when tracing is on.
 */
import type { Context } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';

/** Why spans were dropped: the queue was full, or an export failed (the error's code or name). */
export type DropReporter = (count: number, reason: 'queue_full' | { error: Error | undefined }) => void;

/** Spans handed to the batch processor and not yet taken by an export: its queue's length. */
export interface QueueLength {
  waiting: number;
}

/**
 * The exporter behind the batch processor: a batch leaves the queue when it is exported; a failed one is
 * dropped, and so is one the collector has not acknowledged within `deadlineMs` (the batch processor's export
 * timeout, after which it gives up on the batch and moves on). The OTLP exporter's own timeout is an idle
 * timeout on the socket: a collector that trickles its answer holds an export for good, and its spans were
 * counted nowhere. A batch is counted once, whatever the collector says later.
 */
export class CountingExporter implements SpanExporter {
  constructor(
    private readonly inner: SpanExporter,
    private readonly queue: QueueLength,
    private readonly dropped: DropReporter,
    private readonly deadlineMs: number,
  ) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.queue.waiting = Math.max(0, this.queue.waiting - spans.length);
    let counted = false;
    const timer = setTimeout(() => {
      counted = true;
      const error = new Error(`no answer within ${this.deadlineMs} ms`);
      error.name = 'TimeoutError';
      this.dropped(spans.length, { error });
    }, this.deadlineMs);
    timer.unref();
    this.inner.export(spans, (result) => {
      clearTimeout(timer);
      if (!counted && result.code !== ExportResultCode.SUCCESS) this.dropped(spans.length, { error: result.error });
      counted = true;
      resultCallback(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/**
 * The processor in front of the batch processor: a sampled span finds the queue full exactly when the batch
 * processor would drop it (the same test, `length >= maxQueueSize`); it is counted and not handed on.
 */
export class CountingProcessor implements SpanProcessor {
  constructor(
    private readonly inner: SpanProcessor,
    private readonly queue: QueueLength,
    private readonly maxQueueSize: number,
    private readonly dropped: DropReporter,
  ) {}

  onStart(span: Span, parentContext: Context): void {
    this.inner.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & 1) === 0) return; // not sampled: the batch processor ignores it too
    if (this.queue.waiting >= this.maxQueueSize) {
      this.dropped(1, 'queue_full');
      return;
    }
    this.queue.waiting++;
    this.inner.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}
