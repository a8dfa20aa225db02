/**
 * Users, models and request ids with every character a client can send, against the real parsers: the
 * `prometheus` binary with exemplar storage scrapes tokentap (OpenMetrics, as it asks by default) and must
 * take every scrape without an error, and `promtool check metrics` must pass the classic text. Attribution is
 * on, so the user label carries client input: quotes, backslashes, escaped newlines, U+2028, emoji, UTF-8
 * header bytes, and values that must not be users at all (NUL, ESC, a lone surrogate: see
 * control-char-user-attribution.test.ts). Without the binaries the file is skipped with a line saying so;
 * under CI=true it fails instead.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { freePort, requireBinary, skipWithout } from '../deploy/helpers.js';
import { parseExposition } from '../helpers/prom.js';
import { eventually, startHostile, type Hostile } from './harness.js';

const skip = skipWithout('prometheus', 'promtool');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let h: Hostile;
let prom: ChildProcess | undefined;
let tmp = '';
afterEach(async () => {
  if (prom && prom.exitCode === null) {
    const exited = new Promise((r) => prom!.once('exit', r));
    prom.kill('SIGTERM');
    await Promise.race([exited, sleep(5_000).then(() => prom!.kill('SIGKILL'))]);
  }
  await h?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Users as JSON string contents (the body's `user`), models likewise, request ids as sent. */
const USERS = ['q\\"uote', 'back\\\\slash', 'new\\nline', 'ls\\u2028ps', 'emoji \\ud83d\\ude00', 'a\\u0000b', '\\u001b[31mred', '\\ud800'];
const MODELS = ['m\\"1', 'm\\\\2', 'm\\n3'];
const IDS = ['id"quote', 'id\\back', 'id}{#', 'plain-id'];

describe.skipIf(skip)('odd users, models and request ids against Prometheus and promtool (exemplars, attribution)', () => {
  it('every scrape is taken without error, exemplars are stored, the classic text lints clean', { timeout: 120_000 }, async () => {
    h = await startHostile({ user_from: ['header:x-user', 'body:user'], prices: { '*': { input: 1, output: 2 } } });
    let sent = 0;
    for (const [i, user] of USERS.entries()) {
      const res = await h.request('/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': IDS[i % IDS.length] },
        body: `{"model":"${MODELS[i % MODELS.length]}","user":"${user}","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
      });
      expect(res.statusCode).toBe(200);
      await res.body.text();
      sent++;
    }
    const body = '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}';
    const raw = Buffer.concat([
      Buffer.from('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-request-id: plain-id\r\nx-user: '),
      Buffer.from('jörg "the" \\ user', 'utf8'),
      Buffer.from(`\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`),
    ]);
    expect(await h.raw(raw)).toMatch(/^HTTP\/1\.1 200 /);
    sent++;
    await h.expectClean(sent);

    const classic = await h.metrics();
    const lint = spawnSync(requireBinary('promtool'), ['check', 'metrics'], { input: classic, encoding: 'utf8' });
    expect(lint.stdout + lint.stderr).toBe('');
    expect(lint.status).toBe(0);
    const users = new Set(parseExposition(classic).filter((s) => s.name === 'tokentap_user_requests_total').map((s) => s.labels.user));
    expect(users).toContain('jörg "the" \\ user');
    expect(users).toContain('emoji 😀');

    tmp = mkdtempSync(join(tmpdir(), 'tokentap-odd-labels-'));
    writeFileSync(
      join(tmp, 'prometheus.yml'),
      toYaml({ global: { scrape_interval: '1s', scrape_timeout: '1s' }, scrape_configs: [{ job_name: 'tokentap', static_configs: [{ targets: [new URL(h.tap.metricsUrl).host] }] }] }),
    );
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let log = '';
    prom = spawn(
      requireBinary('prometheus'),
      [`--config.file=${join(tmp, 'prometheus.yml')}`, `--storage.tsdb.path=${join(tmp, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--enable-feature=exemplar-storage', '--log.level=warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prom.stdout?.on('data', (b: Buffer) => (log += b.toString()));
    prom.stderr?.on('data', (b: Buffer) => (log += b.toString()));
    const api = async <T>(path: string, params: Record<string, string> = {}): Promise<T> => {
      const body = (await (await fetch(`${url}${path}?${new URLSearchParams(params)}`)).json()) as { status: string; data: T; error?: string };
      if (body.status !== 'success') throw new Error(`${path}: ${body.error}`);
      return body.data;
    };
    const query = async (q: string) => (await api<{ result: { value: [number, string] }[] }>('/api/v1/query', { query: q })).result;
    const userSeries = parseExposition(classic).filter((s) => s.name === 'tokentap_user_requests_total').length;
    await eventually(async () => (await query('count(tokentap_user_requests_total)'))[0]?.value[1] === String(userSeries), 30_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}\nprometheus log:\n${log}`);
      },
    );
    for (let i = 0; i < 3; i++) {
      // a few more scrapes: each one must be taken whole
      await sleep(1_100);
      const targets = await api<{ activeTargets: { health: string; lastError: string }[] }>('/api/v1/targets');
      expect(targets.activeTargets.map((t) => ({ health: t.health, lastError: t.lastError }))).toEqual([{ health: 'up', lastError: '' }]);
    }
    const exemplars = await api<{ exemplars: { labels: Record<string, string> }[] }[]>('/api/v1/query_exemplars', {
      query: 'tokentap_request_duration_seconds_bucket',
      start: String(Date.now() / 1000 - 600),
      end: String(Date.now() / 1000 + 60),
    });
    expect(exemplars.flatMap((s) => s.exemplars.map((e) => e.labels.request_id))).toContain('plain-id');
  });
});
