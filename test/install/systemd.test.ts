/**
 * deploy/systemd/tokentap.service: hardened, restarted on failure, configured by /etc/tokentap/tokentap.env, and
 * started through the installed `tokentap` command (whose shebang carries --max-semi-space-size=4). Checked with
 * `systemd-analyze verify` and `systemd-analyze security --offline` (.ci/run installs systemd for them). Without
 * systemd-analyze those two skip with one line, except in CI. Running the unit needs systemd as PID 1: not here.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { toolsRequired } from '../deploy/helpers.js';
import { ROOT } from './helpers.js';

const UNIT = join(ROOT, 'deploy', 'systemd', 'tokentap.service');
const ENV_FILE = join(ROOT, 'deploy', 'systemd', 'tokentap.env');
const tmp = mkdtempSync(join(tmpdir(), 'tokentap-systemd-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The unit's settings, section by section; a key given several times keeps every value. */
function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const sections: Record<string, Record<string, string[]>> = {};
  let current: Record<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = sections[section[1]] = {};
      continue;
    }
    const eq = line.indexOf('=');
    (current![line.slice(0, eq)] ??= []).push(line.slice(eq + 1));
  }
  return sections;
}

const text = readFileSync(UNIT, 'utf8');
const unit = parseUnit(text);
const service = unit.Service;
const one = (key: string) => {
  expect(service[key], key).toHaveLength(1);
  return service[key][0];
};

let warned = false;
const hasAnalyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).status === 0;
function needAnalyze(ctx: TestContext) {
  if (hasAnalyze) return;
  const why = 'systemd-analyze not found (Debian package systemd)';
  if (toolsRequired()) throw new Error(why); // .ci/run installs it
  if (!warned) process.stderr.write(`skipped: ${why}\n`); // one line, however many tests skip
  warned = true;
  ctx.skip(why);
}

describe('deploy/systemd/tokentap.service', () => {
  it('a dedicated user, no new privileges, a read-only system, private /tmp and devices', () => {
    expect(one('DynamicUser') === 'yes' || one('User') === 'tokentap').toBe(true);
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    expect(['yes', 'read-only', 'tmpfs']).toContain(one('ProtectHome'));
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('PrivateDevices')).toBe('yes');
    expect(one('CapabilityBoundingSet')).toBe('');
    // V8's JIT needs writable+executable memory: MemoryDenyWriteExecute=yes would kill node at start
    expect(service.MemoryDenyWriteExecute).toBeUndefined();
  });

  it('restarts on failure; SIGTERM to tokentap alone, with time for its shutdown grace (30 s by default)', () => {
    expect(['on-failure', 'always']).toContain(one('Restart'));
    expect(one('KillMode')).toBe('mixed');
    expect(Number(/^(\d+)s$/.exec(one('TimeoutStopSec'))![1])).toBeGreaterThan(30);
    expect(unit.Install.WantedBy).toEqual(['multi-user.target']);
  });

  it('configured by /etc/tokentap/tokentap.env; the example there is a valid tokentap configuration', () => {
    expect(one('EnvironmentFile')).toBe('/etc/tokentap/tokentap.env');
    const env: Record<string, string> = {};
    for (const line of readFileSync(ENV_FILE, 'utf8').split('\n')) {
      const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
      if (m) env[m[1]] = m[2];
    }
    expect(env.TOKENTAP_UPSTREAM).toMatch(/^http:\/\//);
    expect(loadConfig({ env }).upstream).toBe(env.TOKENTAP_UPSTREAM);
    // each commented-out setting is valid too, once uncommented (with the upstream)
    for (const line of readFileSync(ENV_FILE, 'utf8').split('\n')) {
      const m = /^#(TOKENTAP_[A-Z0-9_]+)=(\S+)$/.exec(line);
      if (m && m[1] !== 'TOKENTAP_CONFIG') expect(() => loadConfig({ env: { ...env, [m[1]]: m[2] } }), line).not.toThrow();
    }
  });

  it('starts the installed command, whose shebang gives node the runtime flag: none added here', () => {
    expect(one('ExecStart')).toBe('/usr/local/bin/tokentap');
    expect(readFileSync(join(ROOT, 'bin', 'tokentap.cjs'), 'utf8')).toMatch(/^#!\/usr\/bin\/env -S node --max-semi-space-size=4\n/);
  });

  it('systemd-analyze verify: no warning', (ctx) => {
    needAnalyze(ctx);
    // verify checks that ExecStart's program exists: point it at this checkout's bin (same file as installed)
    const copy = join(tmp, 'tokentap.service');
    writeFileSync(copy, text.replace(/^ExecStart=\/usr\/local\/bin\/tokentap$/m, `ExecStart=${join(ROOT, 'bin', 'tokentap.cjs')}`));
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', copy], { encoding: 'utf8', cwd: tmp });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('systemd-analyze security --offline: exposure 2.0 or less ("OK")', (ctx) => {
    needAnalyze(ctx);
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', UNIT], { encoding: 'utf8', cwd: tmp });
    expect(r.status, r.stderr).toBe(0);
    const exposure = Number(/Overall exposure level for tokentap\.service: ([\d.]+)/.exec(r.stdout)![1]);
    expect(exposure).toBeLessThanOrEqual(2);
  });
});
