/**
 * `bench:overhead --tracing`: a local OTLP/HTTP sink for the traced tokentap targets. It takes every export,
 * counts its requests and bytes, and answers 200 with an empty ExportTraceServiceResponse, without decoding:
 * the benchmark measures what tracing costs tokentap, not a collector.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OtlpSink {
  url: string;
  /** Export requests and body bytes received so far. */
  counts(): { exports: number; bytes: number };
  close(): Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  let exports = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      exports++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts: () => ({ exports, bytes }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `--tracing 1,0.01` → [1, 0.01]: the sample ratios to run traced tokentap targets at. */
export function parseTracingRatios(value: string | undefined): number[] {
  if (value === undefined) return [];
  return value.split(',').map((s) => {
    const n = Number(s.trim());
    if (s.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new Error(`--tracing: expected sample ratios from 0 to 1 (e.g. 1,0.01), got "${s}"`);
    return n;
  });
}

/** The target name of tokentap traced at `ratio`. */
export const tracingTarget = (ratio: number) => `trace@${ratio}` as const;
