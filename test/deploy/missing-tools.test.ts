/**
 * `npm test` on a machine without promtool, prometheus, amtool and docker-compose: the tests that run them
 * are reported as skipped, with one line per tool naming its Debian package; under CI=true they fail with
 * that package instead. The test files are run by a nested vitest whose PATH holds only node's directory.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEBIAN_PACKAGE, REPO, findBinary, missingBinaryMessage, toolsRequired } from './helpers.js';

const FILES = ['test/deploy/tools.test.ts', 'test/metrics/promtool-lint.test.ts', 'test/deploy/prometheus.integration.test.ts'];
const VITEST = join(REPO, 'node_modules/vitest/vitest.mjs');

/** The three files under a nested vitest with PATH = node's directory only (none of the tools). */
function vitestWithoutTools(ci: string | undefined) {
  const env: NodeJS.ProcessEnv = { HOME: process.env.HOME, PATH: dirname(process.execPath), NO_COLOR: '1' };
  if (ci !== undefined) env.CI = ci;
  const r = spawnSync(process.execPath, [VITEST, 'run', ...FILES], { cwd: REPO, env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const tmp = mkdtempSync(join(tmpdir(), 'tokentap-bin-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the helpers', () => {
  it('findBinary looks through PATH for an executable file, without a shell', () => {
    writeFileSync(join(tmp, 'amtool'), '#!/bin/sh\n');
    writeFileSync(join(tmp, 'promtool'), 'not executable');
    chmodSync(join(tmp, 'amtool'), 0o755);
    const env = { PATH: ['/nonexistent', tmp].join(':') };
    expect(findBinary('amtool', env)).toBe(join(tmp, 'amtool'));
    expect(findBinary('promtool', env)).toBeUndefined();
    expect(findBinary('docker-compose', env)).toBeUndefined();
    expect(findBinary('amtool', {})).toBeUndefined();
  });

  it('CI=true (or any value but "", 0, false) makes the tools required', () => {
    expect(toolsRequired({ CI: 'true' })).toBe(true);
    expect(toolsRequired({ CI: '1' })).toBe(true);
    expect(toolsRequired({ CI: 'false' })).toBe(false);
    expect(toolsRequired({ CI: '' })).toBe(false);
    expect(toolsRequired({})).toBe(false);
  });

  it('the message names the tool and its Debian package', () => {
    expect(missingBinaryMessage('amtool')).toBe('amtool is not on PATH (Debian package prometheus-alertmanager: apt-get install -y prometheus-alertmanager)');
    expect(Object.keys(DEBIAN_PACKAGE).sort()).toEqual(['amtool', 'docker-compose', 'prometheus', 'promtool']);
  });
});

describe('a nested vitest with none of the tools on PATH', () => {
  it('without CI: every test that needs a tool is skipped, with one line per missing tool', () => {
    const { status, out } = vitestWithoutTools(undefined);
    expect(status, out).toBe(0);
    expect(out).toMatch(/Test Files\s+3 skipped \(3\)/);
    expect(out).toMatch(/Tests\s+(\d+) skipped \(\1\)/);
    for (const tool of ['promtool', 'prometheus', 'amtool', 'docker-compose']) {
      expect(out).toContain(`skipping the tests that run ${missingBinaryMessage(tool)}; under CI=true they fail instead`);
    }
  }, 60_000);

  it('with CI=true: they fail, naming the package to install', () => {
    const { status, out } = vitestWithoutTools('true');
    expect(status, out).not.toBe(0);
    expect(out).toMatch(/Test Files\s+3 failed \(3\)/);
    expect(out).not.toContain('skipping the tests');
    for (const tool of ['promtool', 'prometheus', 'amtool', 'docker-compose']) {
      expect(out).toContain(`required binary ${missingBinaryMessage(tool)}`);
    }
  }, 60_000);
});
