/**
 * `--proxy-log FILE`: reads tokentap's access log for this run's request ids, and says why when the join comes
 * up short (the file is missing or empty — tokentap logs to stdout unless started with `--log FILE` —, or it
 * holds other requests only), instead of reporting "0 matched" in silence.
 */
import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAccessLog, type AccessLogEntry } from './join.js';
import { describeError } from './net-errors.js';

export interface ProxyLogRead {
  entries: AccessLogEntry[];
  /** missing: no such file; unreadable: another error (in `error`); empty: 0 bytes; ok: has lines. */
  state: 'missing' | 'unreadable' | 'empty' | 'ok';
  error: string | null;
  /** Bytes appended since `fromOffset` (what the run wrote, and whatever else did meanwhile). */
  bytesSinceStart: number;
  /** The file's last non-empty line (for the warning), cut to 200 characters and an ellipsis. */
  lastLine: string | null;
}

/** The log's size now (where this run's lines will start), 0 when it does not exist yet. */
export async function logOffset(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

const cut = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n)}…` : s);

async function readFrom(path: string, offset: number): Promise<{ text: string; size: number; tail: string }> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const start = size >= offset ? offset : 0; // truncated or rotated since: read it all
    const buf = Buffer.alloc(size - start);
    if (buf.length > 0) await fh.read(buf, 0, buf.length, start);
    const tailLen = Math.min(size, 4096);
    const tail = Buffer.alloc(tailLen);
    if (tailLen > 0) await fh.read(tail, 0, tailLen, size - tailLen);
    return { text: buf.toString('utf8'), size: size - start, tail: tail.toString('utf8') };
  } finally {
    await fh.close();
  }
}

/**
 * Reads what was appended to the log since `fromOffset` until every id in `ids` shows up, or `waitMs` passes
 * (tokentap writes its log in batches, at least every 200 ms); a missing or empty file is given up on after 1 s.
 */
export async function readProxyLog(path: string, ids: ReadonlySet<string>, waitMs: number, fromOffset = 0): Promise<ProxyLogRead> {
  const deadline = performance.now() + waitMs;
  for (;;) {
    let read: ProxyLogRead;
    try {
      const { text, size, tail } = await readFrom(path, fromOffset);
      const lines = tail.split('\n').filter((l) => l.trim() !== '');
      read = {
        entries: parseAccessLog(text),
        state: tail === '' ? 'empty' : 'ok',
        error: null,
        bytesSinceStart: size,
        lastLine: lines.length > 0 ? cut(lines[lines.length - 1].trim(), 200) : null,
      };
    } catch (e) {
      const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
      read = { entries: [], state: missing ? 'missing' : 'unreadable', error: missing ? null : describeError(e), bytesSinceStart: 0, lastLine: null };
    }
    const seen = read.entries.filter((x) => ids.has(x.request_id)).length;
    if (seen >= ids.size || performance.now() >= deadline) return read;
    // tokentap opens its log at start and flushes at least every 200 ms: a file still missing or empty a
    // second after the run will not get this run's lines
    if ((read.state === 'missing' || read.state === 'empty') && performance.now() >= deadline - waitMs + Math.min(waitMs, 1000)) return read;
    await sleep(100);
  }
}

/**
 * Why `matched` of the run's requests were found in the log, when that is fewer than the requests tokentap
 * answered (`answered`: records with an HTTP status); null when nothing is missing.
 */
export function joinWarning(file: string, matched: number, answered: number, total: number, read: ProxyLogRead, idPrefix: string): string | null {
  if (matched >= answered) return null;
  const head = `joined ${matched} of ${total} requests with ${file}`;
  const where = `Does tokentap write its access log there? It logs to stdout unless started with --log ${file} (or access_log: ${file})`;
  switch (read.state) {
    case 'missing':
      return `${head}: the file does not exist. ${where}`;
    case 'unreadable':
      return `${head}: cannot read it: ${read.error}`;
    case 'empty':
      return `${head}: the file is empty. ${where}`;
  }
  if (matched > 0) {
    return `${head}: ${answered - matched} of the requests answered are not in it (is something besides this tokentap answering some of them?)`;
  }
  const last = read.lastLine === null ? '' : `; its last line is: ${read.lastLine}`;
  if (read.bytesSinceStart === 0) return `${head}: nothing was written to it during the run${last}. ${where}`;
  return (
    `${head}: lines were written to it during the run, none with this run's x-request-id (${idPrefix}…)${last}. ` +
    'Is the target that tokentap (or does something in between replace x-request-id)?'
  );
}
