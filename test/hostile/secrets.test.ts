/**
 * Findings 11 and 14 (secrets): a metrics_token no Bearer header can carry is refused at startup, naming
 * the field and never the value; the startup line masks the upstream URL's query and fragment.
 */
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
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
