/**
 * Findings 11 and 14 (secrets): a metrics_token no Bearer header can carry is refused at startup, naming
 * the field and never the value; the startup line masks the upstream URL's query and fragment. Attribution:
 * API keys and the key id secret appear nowhere tokentap writes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../src/sim/server.js';
import { startTap } from '../helpers/tap.js';
import { eventually } from '../helpers/wait.js';

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;

describe('metrics_token outside RFC 6750 token68 (finding 11)', () => {
  it('is refused at startup with a config error naming metrics_token, not the value', async () => {
    await expect(async () => startTap('http://127.0.0.1:1', { metrics_token: 'pa$$:w0rd!' })).rejects.toThrow(/metrics_token/);
    const cli = spawnSync(process.execPath, [CLI, '--upstream', 'http://127.0.0.1:1', '--port', '0', '--metrics-port', '0'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, TOKENTAP_METRICS_TOKEN: 'pa$$:w0rd!' },
      timeout: 10_000,
    });
    expect(cli.status).toBe(2);
    expect(cli.stderr).toMatch(/metrics_token/);
    expect(cli.stderr).not.toContain('w0rd');
  });
});

describe('the startup line (finding 14)', () => {
  it('masks the upstream URL’s credentials, query and fragment', async () => {
    const child = spawn(
      process.execPath,
      [CLI, '--upstream', 'http://user:hunter2@127.0.0.1:1/v1?key=sk-SECRET#frag-SECRET', '--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--log', 'off'],
      { env: { PATH: process.env.PATH } },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await eventually(() => /metrics at \S+\/metrics/.test(stderr), 10_000);
      expect(stderr).toContain('-> http://***:***@127.0.0.1:1/v1?***#***');
      expect(stderr).not.toMatch(/SECRET|hunter2/);
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('attribution: API keys and the key id secret', () => {
  const SECRET = 'hostile-key-id-secret-b71e93c0';
  const KEYS = ['sk-hostile-KEY-one-1111', 'sk-hostile-KEY-two-2222', 'az-hostile-KEY-three-3333'];

  it('a key_id_secret refused at startup is not printed', () => {
    const cli = spawnSync(process.execPath, [CLI, '--upstream', 'http://127.0.0.1:1', '--port', '0', '--metrics-port', '0'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, TOKENTAP_USER_FROM: 'api_key', TOKENTAP_KEY_ID_SECRET: 'sh0rt-s3cret' },
      timeout: 10_000,
    });
    expect(cli.status).toBe(2);
    expect(cli.stderr).toMatch(/key_id_secret/);
    expect(cli.stderr).not.toContain('s3cret');
  });

  it('no key and not the secret in stdout (the access log), stderr, /metrics or any answer', { timeout: 60_000 }, async () => {
    const sim = await startSimulator({ port: 0, ttftMs: 1, itlMs: 1 });
    const child = spawn(
      process.execPath,
      [CLI, '--upstream', sim.url, '--host', '127.0.0.1', '--port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--log', '-'],
      { env: { PATH: process.env.PATH, TOKENTAP_USER_FROM: 'api_key', TOKENTAP_KEY_ID_SECRET: SECRET, TOKENTAP_BODY_LIMIT: '16KiB' } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const answers: string[] = [];
    try {
      await eventually(() => /metrics at \S+\/metrics/.test(stderr), 10_000);
      const proxy = /proxying (\S+) ->/.exec(stderr)![1];
      const metricsUrl = /metrics at (\S+)\/metrics/.exec(stderr)![1];
      const ask = async (path: string, headers: Record<string, string>, body: string | undefined, method = 'POST') => {
        const res = await fetch(`${proxy}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, body });
        answers.push(`${res.status} ${JSON.stringify([...res.headers])} ${await res.text()}`);
      };
      const chat = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
      for (const key of KEYS) {
        const auth: Record<string, string> = key.startsWith('az-') ? { 'api-key': key } : { authorization: `Bearer ${key}` };
        await ask('/v1/chat/completions', auth, chat); // ok
        await ask('/v1/chat/completions', { ...auth, 'x-sim-fault': 'http-400' }, chat); // the upstream refuses
        await ask('/v1/chat/completions', auth, JSON.stringify({ model: 'm', prompt: 'x'.repeat(20_000) })); // 413 from tokentap
        await ask('/v1/chat/completions', auth, '{"model": "m", broken'); // not JSON: forwarded, the upstream refuses
        await ask('/v1/models', auth, undefined, 'GET');
      }
      answers.push(await (await fetch(`${metricsUrl}/metrics`)).text());
    } finally {
      child.kill('SIGTERM');
      await exited;
      await sim.close();
    }
    expect(stderr).toContain('tokentap: attribution: users from api_key, at most 100 as labels; key ids in the access log');
    expect(stdout.split('\n').filter(Boolean)).toHaveLength(5 * KEYS.length);
    const ids = stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { user: string; key_id: string }).key_id);
    expect(new Set(ids).size).toBe(KEYS.length); // each key has its id, on every line
    for (const [where, text] of [['access log', stdout], ['stderr', stderr], ['answers and /metrics', answers.join('\n')]]) {
      for (const secret of [SECRET, ...KEYS]) expect(text.includes(secret), `${where}: ${secret}`).toBe(false);
    }
  });
});
