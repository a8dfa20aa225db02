/**
 * Attribution through tokentap: the official openai SDK sending Open WebUI's headers, and clients with their
 * own bearer keys. Per-user and per-key counts are exact in /metrics and in the access log; the keys never
 * appear in either, nor in an error body; every path (rejected, aborted, upstream error) gets its user.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricSum, parseExposition } from '../helpers/prom.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

const SECRET = 'attribution-e2e-secret-6f1c0d2a';
const keyId = (key: string) => createHmac('sha256', SECRET).update(key).digest('hex').slice(0, 16);

/** Open WebUI calls the upstream with one key and names the user in headers (ENABLE_FORWARD_USER_INFO_HEADERS=true). */
const OWUI_KEY = 'sk-openwebui-SHARED-KEY-91b3e0';
const owuiHeaders = (name: string, id: string, email: string) => ({
  'X-OpenWebUI-User-Name': name,
  'X-OpenWebUI-User-Id': id,
  'X-OpenWebUI-User-Email': email,
  'X-OpenWebUI-User-Role': 'user',
});
const KEYS = ['sk-team-a-KEY-0a1b2c3d4e', 'sk-team-b-KEY-5f6a7b8c9d', 'sk-team-c-KEY-e0f1a2b3c4'];
const ALL_KEYS = [OWUI_KEY, ...KEYS, 'sk-never-admitted-KEY-77aa'];

let s: Stack;
let stderr = '';
const realError = console.error;
beforeAll(async () => {
  console.error = (...a: unknown[]) => {
    stderr += `${a.map(String).join(' ')}\n`;
    realError(...a);
  };
  s = await startStack(
    { ttftMs: 5, itlMs: 1 },
    { user_from: ['openwebui', 'api_key'], key_id_secret: SECRET, body_limit: '64KiB' },
  );
});
afterAll(async () => {
  await s.close();
  console.error = realError;
});

const client = (apiKey: string, defaultHeaders: Record<string, string> = {}) =>
  new OpenAI({ baseURL: `${s.tap.proxyUrl}/v1`, apiKey, defaultHeaders, maxRetries: 0 });

interface Tally {
  requests: number;
  prompt: number;
  completion: number;
}
const messages = [{ role: 'user' as const, content: 'one two three four five six seven' }];

/** One chat request, streamed or not, with usage returned to the client either way: its counts. */
async function chat(c: OpenAI, model: string, maxTokens: number, stream: boolean): Promise<{ prompt: number; completion: number }> {
  if (!stream) {
    const r = await c.chat.completions.create({ model, messages, max_tokens: maxTokens });
    return { prompt: r.usage!.prompt_tokens, completion: r.usage!.completion_tokens };
  }
  const st = await c.chat.completions.create({ model, messages, max_tokens: maxTokens, stream: true, stream_options: { include_usage: true } });
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of st) if (chunk.usage) usage = chunk.usage;
  return { prompt: usage!.prompt_tokens, completion: usage!.completion_tokens };
}

describe('per-user and per-key attribution', () => {
  const expected = new Map<string, Tally>(); // `${user} ${model}` → tally
  let sent = 0;

  it('counts each Open WebUI user and each bearer key exactly, in /metrics and in the access log', async () => {
    const plan: [OpenAI, string, string, number][] = [
      // client, expected user, model, requests
      [client(OWUI_KEY, owuiHeaders('Alice', 'id-alice', 'alice@example.com')), 'alice@example.com', 'chat-a', 5],
      [client(OWUI_KEY, owuiHeaders('Bob', 'id-bob', 'bob@example.com')), 'bob@example.com', 'chat-a', 3],
      [client(OWUI_KEY, owuiHeaders('Bob', 'id-bob', 'bob@example.com')), 'bob@example.com', 'chat-b', 2],
      // an Open WebUI without the email header: the id is next
      [client(OWUI_KEY, { 'X-OpenWebUI-User-Id': 'id-carol' }), 'id-carol', 'chat-b', 2],
      [client(KEYS[0]), keyId(KEYS[0]), 'chat-a', 4],
      [client(KEYS[1]), keyId(KEYS[1]), 'chat-a', 1],
      [client(KEYS[1]), keyId(KEYS[1]), 'chat-b', 3],
      [client(KEYS[2]), keyId(KEYS[2]), 'chat-b', 2],
    ];
    const before = s.logLines().length;
    for (const [c, user, model, n] of plan) {
      for (let i = 0; i < n; i++) {
        const u = await chat(c, model, 2 + ((i * 3) % 7), i % 2 === 0);
        const t = expected.get(`${user} ${model}`) ?? { requests: 0, prompt: 0, completion: 0 };
        expected.set(`${user} ${model}`, { requests: t.requests + 1, prompt: t.prompt + u.prompt, completion: t.completion + u.completion });
        sent++;
      }
    }
    await eventually(() => s.logLines().length >= before + sent, 10_000);
    const m = await s.metrics();
    for (const [k, t] of expected) {
      const [user, model] = k.split(' ');
      expect(metricSum(m, 'tokentap_user_requests_total', { user, model, outcome: 'ok' }), k).toBe(t.requests);
      expect(metricSum(m, 'tokentap_user_tokens_total', { user, model, type: 'prompt' }), k).toBe(t.prompt);
      expect(metricSum(m, 'tokentap_user_tokens_total', { user, model, type: 'completion' }), k).toBe(t.completion);
    }
    // the per-user view adds up to the per-model one
    for (const model of ['chat-a', 'chat-b']) {
      for (const type of ['prompt', 'completion']) {
        expect(metricSum(m, 'tokentap_user_tokens_total', { model, type })).toBe(metricSum(m, 'tokentap_tokens_total', { model, type }));
      }
      expect(metricSum(m, 'tokentap_user_requests_total', { model })).toBe(metricSum(m, 'tokentap_requests_total', { model }));
    }

    const lines = s.logLines().slice(before);
    const fromLog = new Map<string, Tally>();
    for (const l of lines) {
      const k = `${l.user} ${l.model}`;
      const t = fromLog.get(k) ?? { requests: 0, prompt: 0, completion: 0 };
      fromLog.set(k, { requests: t.requests + 1, prompt: t.prompt + (l.prompt_tokens as number), completion: t.completion + (l.completion_tokens as number) });
      // Open WebUI's requests carry its key: the key id joins them; a key's own requests are its id
      expect(l.key_id).toBe(String(l.user).includes('@') || l.user === 'id-carol' ? keyId(OWUI_KEY) : l.user);
      expect(l.trace_id).toBeNull();
      expect(l.cost).toBeNull(); // no price table
    }
    expect(fromLog).toEqual(expected);
  });

  it('rejected, aborted and upstream-error requests get their user too; an unknown user is labelled unknown', async () => {
    const before = s.logLines().length;
    const alice = client(OWUI_KEY, owuiHeaders('Alice', 'id-alice', 'alice@example.com'));
    // 413 from tokentap itself: the body is never read, the headers still name the user
    const big = await alice.chat.completions.create({ model: 'chat-a', messages: [{ role: 'user', content: 'x'.repeat(100_000) }] }).catch((e: unknown) => e);
    expect((big as { status: number }).status).toBe(413);
    expect(JSON.stringify((big as { error: unknown }).error)).not.toContain('sk-');
    // the client goes away mid-stream
    const ac = new AbortController();
    const st = await alice.chat.completions.create(
      { model: 'chat-a', messages, max_tokens: 50, stream: true },
      { signal: ac.signal, headers: { 'x-sim-itl-ms': '50' } },
    );
    try {
      for await (const _ of st) ac.abort();
    } catch {
      // (the SDK may end the iteration quietly or with an abort error)
    }
    // the upstream answers 400 for a key never seen: it keeps its key id in the log, takes no label slot
    const fresh = client(ALL_KEYS[4]);
    const refused = await fresh.chat.completions.create({ model: 'chat-a', messages }, { headers: { 'x-sim-fault': 'http-400' } }).catch((e: unknown) => e);
    expect((refused as { status: number }).status).toBe(400);
    // no user and no key at all
    const anon = await fetch(`${s.tap.proxyUrl}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'chat-a', messages, max_tokens: 1 }) });
    expect(anon.status).toBe(200);
    await anon.text();
    // CONNECT, refused by tokentap (405): node:http parsed its headers, which name the user
    await new Promise<void>((resolve, reject) => {
      const sock = connect(new URL(s.tap.proxyUrl).port as unknown as number, '127.0.0.1', () =>
        sock.write(`CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\nx-openwebui-user-email: alice@example.com\r\nauthorization: Bearer ${OWUI_KEY}\r\n\r\n`),
      );
      let got = '';
      sock.on('data', (d) => (got += d.toString()));
      sock.on('close', () => (got.startsWith('HTTP/1.1 405') && !got.includes(OWUI_KEY) ? resolve() : reject(new Error(got))));
      sock.on('error', reject);
    });

    await eventually(() => s.logLines().length >= before + 5, 10_000);
    const lines = s.logLines().slice(before);
    const byOutcome = (o: string) => lines.filter((l) => l.outcome === o);
    expect(byOutcome('rejected').map((l) => [l.status, l.user, l.key_id])).toEqual(
      expect.arrayContaining([
        [413, 'alice@example.com', keyId(OWUI_KEY)],
        [405, 'alice@example.com', keyId(OWUI_KEY)],
      ]),
    );
    expect(byOutcome('client_aborted').map((l) => l.user)).toEqual(['alice@example.com']);
    expect(byOutcome('upstream_error').map((l) => [l.user, l.key_id])).toEqual([[keyId(ALL_KEYS[4]), keyId(ALL_KEYS[4])]]);
    expect(lines.filter((l) => l.outcome === 'ok').map((l) => [l.user, l.key_id])).toEqual([[null, null]]);

    const m = await s.metrics();
    expect(metricSum(m, 'tokentap_user_requests_total', { user: 'alice@example.com', model: 'unknown', outcome: 'rejected' })).toBe(2); // 413 + 405
    expect(metricSum(m, 'tokentap_user_requests_total', { user: 'alice@example.com', model: 'chat-a', outcome: 'client_aborted' })).toBe(1);
    expect(metricSum(m, 'tokentap_user_requests_total', { user: 'other', model: 'chat-a', outcome: 'upstream_error' })).toBe(1);
    expect(metricSum(m, 'tokentap_user_requests_total', { user: 'unknown', model: 'chat-a', outcome: 'ok' })).toBe(1);
  });

  it('no key (nor the key id secret) appears in /metrics, the access log, or stderr', async () => {
    const texts = { metrics: await s.metrics(), log: readFileSync(s.logFile, 'utf8'), stderr };
    for (const [where, text] of Object.entries(texts)) {
      for (const secret of [...ALL_KEYS, SECRET]) expect(text.includes(secret), `${where} holds ${secret}`).toBe(false);
    }
    // and the label values are the ones expected, nothing else
    const users = new Set(parseExposition(texts.metrics).filter((x) => x.name === 'tokentap_user_requests_total').map((x) => x.labels.user));
    expect([...users].sort()).toEqual(
      ['alice@example.com', 'bob@example.com', 'id-carol', keyId(KEYS[0]), keyId(KEYS[1]), keyId(KEYS[2]), 'other', 'unknown'].sort(),
    );
  });
});
