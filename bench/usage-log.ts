/**
 * A synthetic tokentap access log: lines shaped like src/log/access-log.ts's `accessLogEntry` plus the
 * attribution/cost fields (user, key_id, cost, trace_id), from a seeded PRNG. Used by `npm run bench:usage`
 * (a million lines) and by test/report (small logs whose totals the test sums on its own).
 * Erasable TypeScript only: it runs under node --experimental-strip-types.
 */
import type { AccessLogEntry } from '../src/log/access-log.ts';

/** A line of the access log, as src/log/access-log.ts writes it (a type import: erased when run). */
export type SyntheticEntry = AccessLogEntry;

/** A small seeded PRNG (the simulator's mulberry32, from the build: the same log for the same seed). */
import { mulberry32 as prng } from '../dist/sim/options.js';
export { prng };

/** Prices per 1M tokens (input, cached input, output); `null`: a model without a price (cost null). */
const MODELS: [string, [number, number, number] | null][] = [
  ['llama-3.1-8b-instruct', [0.2, 0.1, 0.6]],
  ['qwen2.5-72b-instruct', [0.9, 0.45, 2.7]],
  ['gpt-4o-mini', [0.15, 0.075, 0.6]],
  ['bge-m3', null],
];
const ENDPOINTS = ['chat_completions', 'chat_completions', 'chat_completions', 'completions', 'responses'];
const OUTCOMES: [string, number][] = [
  ['upstream_error', 502],
  ['timeout', 504],
  ['client_aborted', 499],
  ['stream_error', 200],
];

const round3 = (v: number) => Math.round(v * 1000) / 1000;
const round9 = (v: number) => Math.round(v * 1e9) / 1e9;
const hex = (rand: () => number, n: number) => {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 16).toString(16);
  return s;
};

export interface SyntheticOptions {
  seed?: number;
  /** Distinct users (user-0 … user-(n-1)); keys are one per 3 users. */
  users?: number;
  /** First entry's time (ms) and the mean gap between entries (ms); entries are in time order. */
  startMs?: number;
  gapMs?: number;
  /** Share of entries with no user/key/cost/cached/reasoning fields at all (an old log). */
  oldShare?: number;
}

/** `count` entries, in time order. */
export function* syntheticEntries(count: number, o: SyntheticOptions = {}): Generator<SyntheticEntry> {
  const rand = prng(o.seed ?? 1);
  const users = o.users ?? 200;
  let t = o.startMs ?? Date.UTC(2026, 10, 1);
  const gap = o.gapMs ?? 500;
  const keyIds = Array.from({ length: Math.ceil(users / 3) }, () => hex(rand, 16));
  for (let i = 0; i < count; i++) {
    t += Math.floor(rand() * 2 * gap);
    const [model, price] = MODELS[Math.floor(rand() * MODELS.length)];
    const embeddings = price === null;
    const endpoint = embeddings ? 'embeddings' : ENDPOINTS[Math.floor(rand() * ENDPOINTS.length)];
    const stream = !embeddings && rand() < 0.8;
    const failed = rand() < 0.05 ? OUTCOMES[Math.floor(rand() * OUTCOMES.length)] : null;
    const ok = failed === null;
    const tokens = ok || failed[0] === 'stream_error';
    const prompt = tokens ? 20 + Math.floor(rand() * 4000) : null;
    const cached = prompt !== null && rand() < 0.3 ? Math.floor(prompt * rand()) : prompt === null ? null : 0;
    const completion = tokens && !embeddings ? 1 + Math.floor(rand() * 1500) : tokens ? 0 : null;
    const reasoning = completion !== null && model.startsWith('qwen') ? Math.floor(completion * rand() * 0.5) : completion === null ? null : 0;
    const ttft = stream && tokens ? round3(40 + -Math.log(1 - rand()) * 250) : null;
    const tpot = stream && tokens && completion! > 1 ? round3(8 + rand() * 30) : null;
    const e2e = round3((ttft ?? 30 + rand() * 200) + (tpot ?? 0) * (completion ?? 0) + rand() * 20);
    const cost =
      price === null || prompt === null ? null
      : round9(((prompt - cached!) * price[0] + cached! * price[1] + completion! * price[2]) / 1e6);
    const u = Math.floor(Math.pow(rand(), 2) * users); // a few heavy users, a long tail
    const old = o.oldShare !== undefined && rand() < o.oldShare;
    const entry: SyntheticEntry = {
      ts: new Date(t).toISOString(),
      request_id: `${(0x10000000 + i).toString(16)}-${hex(rand, 8)}`,
      upstream_request_id: rand() < 0.5 ? `req_${hex(rand, 24)}` : null,
      method: 'POST',
      model,
      endpoint,
      stream,
      status: ok ? 200 : failed[1],
      outcome: ok ? 'ok' : failed[0],
      ttft_ms: ttft,
      ttfc_ms: ttft,
      tpot_ms: tpot,
      e2e_ms: e2e,
      prompt_tokens: prompt,
      completion_tokens: completion,
      cached_tokens: cached,
      reasoning_tokens: reasoning,
      usage: tokens ? (ok ? 'reported' : 'estimated') : null,
      user: `user-${u}@example.com`,
      key_id: keyIds[Math.floor(u / 3)],
      cost,
      trace_id: rand() < 0.1 ? hex(rand, 32) : null,
    };
    if (old) {
      const e = entry as unknown as Record<string, unknown>;
      for (const k of ['user', 'key_id', 'cost', 'trace_id', 'cached_tokens', 'reasoning_tokens']) delete e[k];
    }
    yield entry;
  }
}
