/**
 * Access-log files (or stdin) → lines, streaming: plain or gzip (told by the gzip magic bytes, not the name,
 * so `access.log.1` compressed by a rotation tool is read too), one chunk in memory at a time. The only I/O of
 * the usage report.
 */
import { createReadStream, statSync } from 'node:fs';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { UsageError } from './time-range.js';

/**
 * A line longer than this (bytes, or characters once decoded) is not an access-log entry (those are well under
 * 2 KB): it is dropped up to its newline and counted, so a file without newlines cannot make the reader buffer
 * all of it.
 */
export const MAX_LINE_CHARS = 1 << 20;

/** Bigger reads than the 64 KiB default: fewer chunks, fewer string concatenations per million lines. */
const READ_CHUNK = 1 << 20;

export interface LineSink {
  line(text: string): void;
  /** A line over MAX_LINE_CHARS was dropped. */
  tooLong(): void;
}

/**
 * Splits bytes into lines (\n; a trailing \r stays, JSON.parse ignores it), bounded by MAX_LINE_CHARS. Each
 * chunk is cut after its last newline and only the complete lines are decoded (one UTF-8 decode per chunk; a
 * newline byte is never inside a multi-byte character); the bytes after it wait for the next chunk.
 */
export class LineSplitter {
  private rest: Buffer | null = null;
  private dropping = false;

  constructor(private readonly sink: LineSink) {}

  write(chunk: Buffer): void {
    let buf = chunk;
    if (this.rest) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    const last = buf.lastIndexOf(10);
    if (last === -1) return this.keep(buf);
    const text = buf.toString('utf8', 0, last);
    let start = 0;
    for (;;) {
      let nl = text.indexOf('\n', start);
      if (nl === -1) nl = text.length;
      this.emit(text, start, nl);
      if (nl === text.length) break;
      start = nl + 1;
    }
    if (last + 1 < buf.length) this.keep(buf.subarray(last + 1));
  }

  private emit(text: string, start: number, end: number): void {
    if (this.dropping) this.dropping = false;
    else if (end - start > MAX_LINE_CHARS) this.sink.tooLong();
    else this.sink.line(text.slice(start, end));
  }

  /** Holds the bytes of a line not ended yet (copied: not a view that pins the whole read chunk). */
  private keep(bytes: Buffer): void {
    if (bytes.length > MAX_LINE_CHARS) {
      if (!this.dropping) this.sink.tooLong();
      this.dropping = true;
      return;
    }
    this.rest = Buffer.from(bytes);
  }

  /** The last line, when the input does not end with a newline (a log still being written). */
  end(): void {
    const last = this.rest;
    this.rest = null;
    if (last && !this.dropping) this.sink.line(last.toString('utf8'));
    this.dropping = false;
  }
}

const isGzip = (b: Buffer) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** The bytes of `input`, gunzipped when they start with the gzip magic (multi-member files included). */
async function* contentOf(input: Readable): AsyncGenerator<Buffer> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head: Buffer = Buffer.alloc(0);
  while (head.length < 2) {
    const n = await it.next();
    if (n.done) break;
    head = head.length === 0 ? n.value : Buffer.concat([head, n.value]);
  }
  if (!isGzip(head)) {
    if (head.length) yield head;
    for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
    return;
  }
  async function* raw() {
    yield head;
    for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
  }
  // pipeline() carries an error of either side (a read error, a corrupt or truncated gzip) to the iteration.
  const gunzip = pipeline(Readable.from(raw()), createGunzip({ chunkSize: 256 * 1024 }), () => {});
  yield* gunzip as AsyncIterable<Buffer>;
}

/** Feeds every line of `source` (a path, or `-` for stdin) to the sink. Rejects on a read or gzip error. */
export async function readLines(source: string, sink: LineSink): Promise<void> {
  const input = source === '-' ? process.stdin : createReadStream(source, { highWaterMark: READ_CHUNK });
  const splitter = new LineSplitter(sink);
  try {
    for await (const chunk of contentOf(input)) splitter.write(chunk);
  } finally {
    splitter.end();
    if (source !== '-') input.destroy();
  }
}

/**
 * Checks the sources before anything is read: each exists and is a file (or `-`, at most once). A file named
 * twice, or twice under two names (a hard link, `access.log` and `./access.log`), is read once. Throws
 * UsageError naming the path.
 */
export function checkSources(sources: readonly string[]): { sources: string[]; duplicates: string[] } {
  const seen = new Set<string>();
  const out: string[] = [];
  const duplicates: string[] = [];
  for (const s of sources) {
    let id: string;
    if (s === '-') id = '-';
    else {
      let st;
      try {
        st = statSync(s);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new UsageError(`cannot read ${s}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code} (${code})`);
      }
      if (st.isDirectory()) throw new UsageError(`${s} is a directory: give the log files (e.g. ${s}/access.log*)`);
      id = `${st.dev}:${st.ino}`;
    }
    if (seen.has(id)) duplicates.push(s);
    else {
      seen.add(id);
      out.push(s);
    }
  }
  return { sources: out, duplicates };
}
