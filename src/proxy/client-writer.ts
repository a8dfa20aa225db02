/**
 * Writes a streamed response body to the client. When Node frames the body with chunked encoding and this
 * response owns its socket, each chunk goes to the socket as one pre-framed write (size line, data, CRLF)
 * instead of three writes through ServerResponse; `end()` still goes through the response (last chunk,
 * 'finish', keep-alive). Otherwise it is plain `res.write()`.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ClientWriter {
  /** Writes a chunk; false when the caller should wait for `onDrain`. */
  write(chunk: Uint8Array): boolean;
  onDrain(listener: () => void): void;
  /** Detaches socket listeners (the socket may serve another request after this one). */
  release(): void;
}

interface NodeResponseInternals {
  chunkedEncoding?: boolean;
}
interface NodeSocketInternals {
  _httpMessage?: unknown;
}

/** Plain `res.write()`. */
export function plainWriter(outgoing: ServerResponse): ClientWriter {
  return {
    write: (chunk) => outgoing.write(chunk),
    onDrain: (listener) => void outgoing.on('drain', listener),
    release: () => {},
  };
}

export function clientWriter(outgoing: ServerResponse): ClientWriter {
  const socket = outgoing.socket as (Socket & NodeSocketInternals) | null;
  const framed =
    socket !== null &&
    outgoing.headersSent &&
    (outgoing as ServerResponse & NodeResponseInternals).chunkedEncoding === true &&
    socket._httpMessage === outgoing &&
    outgoing.writableLength === 0;
  if (!framed || socket === null) return plainWriter(outgoing);
  let drainListener: (() => void) | null = null;
  return {
    write(chunk) {
      // One buffer: "<size hex>\r\n" + data + "\r\n".
      const hex = chunk.length.toString(16);
      const frame = Buffer.allocUnsafe(hex.length + chunk.length + 4);
      let o = frame.write(hex, 0, 'latin1');
      frame[o++] = 13;
      frame[o++] = 10;
      frame.set(chunk, o);
      o += chunk.length;
      frame[o++] = 13;
      frame[o] = 10;
      return socket.write(frame);
    },
    onDrain(listener) {
      drainListener = listener;
      socket.on('drain', listener);
    },
    release() {
      if (drainListener !== null) socket.off('drain', drainListener);
      drainListener = null;
    },
  };
}
