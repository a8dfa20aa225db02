/**
 * The overhead benchmark's load generator: a child process (`fork`) so that its CPU is not
 * counted in — and does not share an event loop with — the proxy under test. It takes jobs over
 * IPC, runs them with the bench's own client (same TTFT definition), and answers with raw figures.
 */
import { Agent } from 'undici';
import { sendRequest, type RequestSpec } from '../client.js';
import { createRng } from '../distributions.js';
import { runLoad } from '../load.js';
import type { RequestRecord } from '../types.js';

export type Job =
  /** Closed loop: `concurrency` workers until `requests` (or `durationMs`). */
  | { kind: 'load'; url: string; body: string; stream: boolean; concurrency: number; requests?: number; durationMs?: number; rampMs?: number; fresh: boolean }
  /** Open `n` streams and keep them open until told to release them (RSS with n open streams). */
  | { kind: 'hold'; url: string; body: string; n: number; timeoutMs: number };

export interface JobResult {
  elapsedMs: number;
  requests: number;
  ok: number;
  errors: Record<string, number>;
  ttftMs: number[];
  e2eMs: number[];
  sseEvents: number;
  tokenEvents: number;
  /** hold: streams that had received their first token when the hold began. */
  opened?: number;
}

export type ParentMessage = { type: 'job'; id: number; job: Job } | { type: 'release'; id: number } | { type: 'exit' };
export type ChildMessage =
  | { type: 'result'; id: number; result: JobResult }
  | { type: 'holding'; id: number; opened: number }
  | { type: 'error'; id: number; message: string };

const agents = new Map<string, Agent>();
const releases = new Map<number, () => void>();

/** A new agent for a `fresh` job (new connections), else the one kept for this origin and pool size. */
function agentFor(url: string, connections: number, fresh: boolean): Agent {
  const make = () => new Agent({ connections, headersTimeout: 600_000, bodyTimeout: 600_000, keepAliveTimeout: 60_000 });
  if (fresh) return make();
  const key = `${new URL(url).origin}#${connections}`;
  let a = agents.get(key);
  if (a === undefined) agents.set(key, (a = make()));
  return a;
}

function collect(records: RequestRecord[], elapsedMs: number): JobResult {
  const errors: Record<string, number> = {};
  const r: JobResult = { elapsedMs, requests: records.length, ok: 0, errors, ttftMs: [], e2eMs: [], sseEvents: 0, tokenEvents: 0 };
  for (const x of records) {
    r.sseEvents += x.sseEvents;
    r.tokenEvents += x.tokenEvents;
    if (x.ok) {
      r.ok++;
      if (x.ttftMs !== null) r.ttftMs.push(x.ttftMs);
      if (x.e2eMs !== null) r.e2eMs.push(x.e2eMs);
    } else {
      const k = x.error ?? 'error';
      errors[k] = (errors[k] ?? 0) + 1;
    }
  }
  return r;
}

const spec = (url: string, body: string, stream: boolean, i: number, extra: Partial<RequestSpec> = {}): RequestSpec => ({
  index: i,
  requestId: `overhead-${process.pid}-${i}`,
  url,
  headers: { 'content-type': 'application/json' },
  body,
  stream,
  requestedPromptTokens: 0,
  requestedMaxTokens: 0,
  ...extra,
});

async function runJob(id: number, job: Job): Promise<JobResult> {
  const records: RequestRecord[] = [];
  if (job.kind === 'load') {
    const agent = agentFor(job.url, job.concurrency, job.fresh);
    const t0 = performance.now();
    const signal = new AbortController().signal;
    await runLoad({ concurrency: job.concurrency, requests: job.requests, durationMs: job.durationMs, rampUpMs: job.rampMs, rng: createRng(1) }, async (i) => {
      records.push(await sendRequest(spec(job.url, job.body, job.stream, i), agent, t0, signal));
    });
    const elapsed = performance.now() - t0;
    if (job.fresh) await agent.close();
    return collect(records, elapsed);
  }
  const agent = new Agent({ connections: job.n, headersTimeout: job.timeoutMs, bodyTimeout: 0 });
  const ac = new AbortController();
  let opened = 0;
  let allOpen!: () => void;
  const ready = new Promise<void>((r) => (allOpen = r));
  const t0 = performance.now();
  const all = Array.from({ length: job.n }, (_, i) =>
    sendRequest(spec(job.url, job.body, true, i, { onFirstToken: () => ++opened === job.n && allOpen() }), agent, t0, ac.signal).then((r) => {
      records.push(r);
    }),
  );
  await Promise.race([ready, new Promise((r) => setTimeout(r, job.timeoutMs))]);
  const released = new Promise<void>((r) => releases.set(id, r));
  process.send?.({ type: 'holding', id, opened } satisfies ChildMessage);
  await released;
  ac.abort();
  await Promise.all(all);
  const elapsed = performance.now() - t0;
  await agent.destroy().catch(() => undefined);
  const result = collect(records, elapsed);
  delete result.errors.aborted; // every held stream is aborted on release: expected
  result.opened = opened;
  return result;
}

process.on('message', (m: ParentMessage) => {
  if (m.type === 'exit') {
    void Promise.all([...agents.values()].map((a) => a.close())).finally(() => process.exit(0));
  } else if (m.type === 'release') {
    releases.get(m.id)?.();
    releases.delete(m.id);
  } else if (m.type === 'job') {
    runJob(m.id, m.job).then(
      (result) => process.send?.({ type: 'result', id: m.id, result } satisfies ChildMessage),
      (e: unknown) => process.send?.({ type: 'error', id: m.id, message: e instanceof Error ? e.stack ?? e.message : String(e) } satisfies ChildMessage),
    );
  }
});
