/**
 * The `user` label is bounded like `model`: 10,000 distinct users (and a flood the upstream rejects first)
 * add at most max_users label values, plus `other` and `unknown`; the access log keeps every one of them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import { metricSum, parseExposition } from '../helpers/prom.js';
import { eventually, startStack, type Stack } from '../helpers/stack.js';

const MAX_USERS = 50;
let s: Stack;
let pool: Pool;
beforeAll(async () => {
  s = await startStack({ ttftMs: 0, itlMs: 0 }, { user_from: ['header:x-team', 'body:user'], max_users: MAX_USERS });
  pool = new Pool(s.tap.proxyUrl, { connections: 16 });
});
afterAll(async () => {
  await pool.close();
  await s.close();
});

async function send(headers: Record<string, string>, body: Record<string, unknown>): Promise<number> {
  const res = await pool.request({
    path: '/v1/chat/completions',
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'flood', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1, ...body }),
  });
  await res.body.dump();
  return res.statusCode;
}

/** Runs `n` calls of `one(i)`, `concurrency` at a time. */
async function run(n: number, concurrency: number, one: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) await one(next++);
  }));
}

describe('10,000 distinct users', () => {
  it('add at most max_users label values (+ other, unknown); the log has all of them', { timeout: 240_000 }, async () => {
    // first a flood the upstream rejects: no user takes a slot
    await run(300, 16, async (i) => expect(await send({ 'x-team': `rejected-${i}`, 'x-sim-fault': 'http-400' }, {})).toBe(400));
    // then 10,000 users, half from the header, half from the body's `user` member
    await run(10_000, 16, async (i) => expect(await send(i % 2 === 0 ? { 'x-team': `team-${i}` } : {}, i % 2 === 0 ? {} : { user: `user-${i}` })).toBe(200));
    expect(await send({}, {})).toBe(200); // no user at all

    const total = 300 + 10_000 + 1;
    await eventually(() => s.logLines().length >= total, 60_000);
    const m = await s.metrics();
    const samples = parseExposition(m).filter((x) => x.name === 'tokentap_user_requests_total');
    const users = new Set(samples.map((x) => x.labels.user));
    expect(users.size).toBe(MAX_USERS + 2);
    expect(users.has('other') && users.has('unknown')).toBe(true);
    // the slots went to the first users answered 2xx (16 in flight at a time), none to the rejected flood
    for (const u of users) if (u !== 'other' && u !== 'unknown') expect(Number(/^(team|user)-(\d+)$/.exec(u)?.[2]), u).toBeLessThan(MAX_USERS + 16);
    expect(metricSum(m, 'tokentap_user_requests_total', { user: 'other', outcome: 'upstream_error' })).toBe(300);
    expect(metricSum(m, 'tokentap_user_requests_total', { user: 'other', outcome: 'ok' })).toBe(10_000 - MAX_USERS);
    expect(metricSum(m, 'tokentap_user_requests_total', { user: 'unknown' })).toBe(1);
    expect(metricSum(m, 'tokentap_user_requests_total')).toBe(total);

    const logged = new Set(s.logLines().map((l) => l.user));
    expect(logged.size).toBe(300 + 10_000 + 1); // every user, and null
    expect(logged.has(null)).toBe(true);
  });
});
