/**
 * Writes a response body to the client. Chunks handed over while undici parses one read from the upstream
 * are coalesced into one socket write at the end of that synchronous run (a microtask; nothing waits for a
 * timer or for more data), so several upstream HTTP chunks that arrived together cost one syscall, as in
 * nginx. When Node frames the body with chunked encoding and this response owns its socket, the write is
 * one pre-framed buffer (size line, data, CRLF) straight to the socket instead of three writes through
 * ServerResponse; `end()` still goes through the response (last chunk, 'finish', keep-alive). Otherwise
 * it is plain `res.write()`.
 */
import type { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ClientWriter {
  /** Queues a chunk; what is queued goes out as one write when the current synchronous run ends. */
  write(chunk: Uint8Array): void;
  /** Writes what is queued now. */
  flush(): void;
  /** Drops anything queued and detaches socket listeners (the socket may serve another request after this one). */
  release(): void;
}

/** Back-pressure both ways: `pause` when the client's socket is full, `resume` when it drained. */
export interface Flow {
  pause(): void;
  resume(): void;
}

interface NodeResponseInternals {
  chunkedEncoding?: boolean;
}
interface NodeSocketInternals {
  _httpMessage?: unknown;
}

/** Writes the queued parts in one go; false when the caller should wait for 'drain'. */
type Sink = (parts: Uint8Array[], size: number) => boolean;

class CoalescingWriter implements ClientWriter {
  private parts: Uint8Array[] = [];
  private size = 0;
  private scheduled = false;
  private released = false;
  private readonly flushTask = () => {
    this.scheduled = false;
    this.flush();
  };
  private readonly onDrain = () => this.flow.resume();

  /** `drains`: what emits 'drain' when the sink can take more (the socket or the response). */
  constructor(
    private readonly sink: Sink,
    private readonly flow: Flow,
    private readonly drains: EventEmitter,
  ) {
    drains.on('drain', this.onDrain);
  }

  write(chunk: Uint8Array): void {
    if (this.released || chunk.length === 0) return;
    this.parts.push(chunk);
    this.size += chunk.length;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushTask);
    }
  }

  flush(): void {
    if (this.parts.length === 0) return;
    const { parts, size } = this;
    this.parts = [];
    this.size = 0;
    if (!this.sink(parts, size)) this.flow.pause();
  }

  release(): void {
    this.released = true;
    this.parts = [];
    this.size = 0;
    this.drains.off('drain', this.onDrain);
  }
}

function joined(parts: Uint8Array[], size: number): Uint8Array {
  return parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
}

/** Plain `res.write()`. */
export function plainWriter(outgoing: ServerResponse, flow: Flow): ClientWriter {
  return new CoalescingWriter((parts, size) => outgoing.write(joined(parts, size)), flow, outgoing);
}

export function clientWriter(outgoing: ServerResponse, flow: Flow): ClientWriter {
  const socket = outgoing.socket as (Socket & NodeSocketInternals) | null;
  const framed =
    socket !== null &&
    outgoing.headersSent &&
    (outgoing as ServerResponse & NodeResponseInternals).chunkedEncoding === true &&
    socket._httpMessage === outgoing &&
    outgoing.writableLength === 0;
  if (!framed || socket === null) return plainWriter(outgoing, flow);
  return new CoalescingWriter(
    (parts, size) => {
      // One buffer: "<size hex>\r\n" + data + "\r\n".
      const hex = size.toString(16);
      const frame = Buffer.allocUnsafe(hex.length + size + 4);
      let o = frame.write(hex, 0, 'latin1');
      frame[o++] = 13;
      frame[o++] = 10;
      for (const p of parts) {
        frame.set(p, o);
        o += p.length;
      }
      frame[o++] = 13;
      frame[o] = 10;
      return socket.write(frame);
    },
    flow,
    socket,
  );
}
