/**
 * bin/tokentap.cjs, the `tokentap` command of every install route: it refuses a Node.js older than 22.12 in one
 * line before anything newer is loaded, and every way of starting it ends in one node process that has
 * --max-semi-space-size=4 exactly once. (test/install/pack.test.ts runs it installed; test/cli runs dist/cli.js.)
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import { childPids, cleanEnv, cmdline, FLAG, ROOT, semiSpaceFlags, startProxy, streamChat } from './helpers.js';

const BIN = join(ROOT, 'bin', 'tokentap.cjs');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  files: string[];
  engines: { node: string };
  scripts: Record<string, string>;
};
const PATH = `${dirname(process.execPath)}:${process.env.PATH}`;
const tmp = mkdtempSync(join(tmpdir(), 'tokentap-bin-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const older = (v: string) => {
  const [major, minor] = v.replace(/^v/, '').split('.').map(Number);
  return major < 22 || (major === 22 && minor < 12);
};

/** A Node.js older than 22.12 on this machine (Debian's /usr/bin/node here), if there is one. */
function findOldNode(): { path: string; version: string } | undefined {
  const which = spawnSync('which', ['-a', 'node'], { encoding: 'utf8' }).stdout.split('\n');
  const seen = new Set<string>();
  for (const candidate of [...which, '/usr/bin/node', '/usr/local/bin/node', '/bin/node']) {
    if (!candidate) continue;
    let real: string;
    try {
      real = realpathSync(candidate);
    } catch {
      continue;
    }
    if (seen.has(real)) continue;
    seen.add(real);
    const version = spawnSync(real, ['-p', 'process.version'], { encoding: 'utf8' }).stdout?.trim();
    if (version && older(version)) return { path: real, version };
  }
  return undefined;
}
const oldNode = findOldNode();
let warned = false;

/**
 * Without an old Node.js the test skips with one line, in CI too: an old Node is not a tool the project installs
 * (this machine's and CI's system node is 20; the refusal is also tested with a faked version below).
 */
function needOldNode(ctx: TestContext): { path: string; version: string } {
  if (oldNode) return oldNode;
  const why = 'no Node.js older than 22.12 found (which -a node, /usr/bin/node, /usr/local/bin/node)';
  if (!warned) process.stderr.write(`skipped: ${why}\n`); // one line, however many tests skip
  warned = true;
  return ctx.skip(why);
}

/**
 * Runs a route into the bin with a --require probe that records, for each node process it starts, its pid
 * and execArgv: the last record is the process that runs tokentap.
 */
function probe(command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const out = join(tmp, `probe-${Math.random().toString(36).slice(2)}.jsonl`);
  const probeFile = join(tmp, 'probe.cjs');
  writeFileSync(
    probeFile,
    "require('fs').appendFileSync(process.env.PROBE_OUT, JSON.stringify({ pid: process.pid, execArgv: process.execArgv }) + '\\n');\n",
  );
  const r = spawnSync(command, args, {
    encoding: 'utf8',
    env: { PATH, PROBE_OUT: out, ...env, NODE_OPTIONS: `--require ${probeFile} ${env.NODE_OPTIONS ?? ''}`.trim() },
    timeout: 20_000,
  });
  expect(r.stderr).toBe('');
  expect(r.stdout.trim()).toBe(pkg.version);
  expect(r.status).toBe(0);
  const records = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { pid: number; execArgv: string[] });
  return { records, last: records.at(-1)! };
}

describe('refusing an old Node.js', () => {
  it('Node.js < 22.12 running the bin: exactly one line, exit 2 (the bin parses and stops before dist/ loads)', (ctx) => {
    const old = needOldNode(ctx);
    const line = `tokentap needs Node.js >= 22.12; this is ${old.version}\n`;
    for (const r of [
      spawnSync(old.path, [BIN, '--version'], { encoding: 'utf8', env: { PATH } }),
      // as a program (the global-install route): the shebang's env finds the old node first on PATH
      spawnSync(BIN, ['--version'], { encoding: 'utf8', env: { PATH: `${dirname(old.path)}:${PATH}` } }),
    ]) {
      expect(r.stderr).toBe(line);
      expect(r.stdout).toBe('');
      expect(r.status).toBe(2);
    }
  });

  it('npm start on an old Node.js refuses with the same line', (ctx) => {
    const old = needOldNode(ctx);
    const r = spawnSync('npm', ['start', '--silent'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: cleanEnv({ PATH: `${dirname(old.path)}:${PATH}` }),
      timeout: 30_000,
    });
    expect(r.stderr).toContain(`tokentap needs Node.js >= 22.12; this is ${old.version}\n`);
    expect(r.status).not.toBe(0);
  });

  it('the boundary, with a faked process.version: 22.11.x refused, 22.12.0 and 23.0.0 run', () => {
    const fake = join(tmp, 'fake-version.cjs');
    writeFileSync(
      fake,
      `var v = process.env.FAKE_NODE_VERSION;
Object.defineProperty(process, 'version', { value: 'v' + v });
Object.defineProperty(process, 'versions', { value: Object.assign({}, process.versions, { node: v }) });
`,
    );
    const run = (v: string) =>
      spawnSync(process.execPath, ['--require', fake, BIN, '--version'], { encoding: 'utf8', env: { PATH, FAKE_NODE_VERSION: v } });
    for (const v of ['22.11.9', '21.99.0', '18.0.0', '8.17.0']) {
      const r = run(v);
      expect(r.stderr).toBe(`tokentap needs Node.js >= 22.12; this is v${v}\n`);
      expect(r.status).toBe(2);
    }
    for (const v of ['22.12.0', '23.0.0', '100.0.0']) {
      const r = run(v);
      expect(r.stdout.trim()).toBe(pkg.version);
      expect(r.status).toBe(0);
    }
  });

  it('engines, engine-strict and the bin agree on 22.12', () => {
    expect(pkg.engines.node).toBe('>=22.12');
    expect(readFileSync(join(ROOT, '.npmrc'), 'utf8')).toMatch(/^engine-strict=true$/m);
    expect(readFileSync(BIN, 'utf8')).toContain('var MIN = [22, 12];');
  });

  it('the bin is ES5: nothing an old parser would trip on before the version check', () => {
    const code = readFileSync(BIN, 'utf8')
      .split('\n')
      .slice(1) // the shebang, which Node strips
      .filter((l) => !/^\s*\/\//.test(l))
      .join('\n')
      .replace(/'(?:[^'\\\n]|\\.)*'/g, "''"); // string contents (the import() text is in one)
    for (const newer of [/=>/, /`/, /\blet\b/, /\bconst\b/, /\bclass\b/, /\.\.\./, /\bimport\b/, /\basync\b/, /\bawait\b/, /,\s*\)/]) {
      expect(code, String(newer)).not.toMatch(newer);
    }
  });

  it('a clone that was not built: one line saying what to run', () => {
    const dir = join(tmp, 'unbuilt');
    mkdirSync(join(dir, 'bin'), { recursive: true });
    copyFileSync(BIN, join(dir, 'bin', 'tokentap.cjs'));
    const r = spawnSync(process.execPath, [FLAG, join(dir, 'bin', 'tokentap.cjs'), '--version'], { encoding: 'utf8', env: { PATH } });
    expect(r.stderr).toBe(`tokentap: ${join(dir, 'dist', 'cli.js')} is missing: run \`npm run build\` (or \`npm install\`) first\n`);
    expect(r.status).toBe(2);
  });
});

describe('--max-semi-space-size=4, exactly once, however tokentap is started', () => {
  const once = (execArgv: string[]) => expect(semiSpaceFlags(execArgv)).toEqual([FLAG]);

  it('as a program (global install, npm pack, npx, systemd): the shebang passes it; no second process', () => {
    expect(readFileSync(BIN, 'utf8').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${FLAG}`);
    expect(statSync(BIN).mode & 0o111).not.toBe(0);
    const { records, last } = probe(BIN, ['--version']);
    expect(records).toHaveLength(1);
    once(last.execArgv);
  });

  it('with the flag already given (npm start, the Docker ENTRYPOINT): not added again', () => {
    const { records, last } = probe(process.execPath, [FLAG, BIN, '--version']);
    expect(records).toHaveLength(1);
    once(last.execArgv);
  });

  it('as `node bin/tokentap.cjs`: the bin re-executes itself with the flag, in the same process (process.execve)', () => {
    const { records, last } = probe(process.execPath, [BIN, '--version']);
    if (typeof process.execve !== 'function') {
      // Node.js 22.12–22.14: no process.execve; the bin runs without the flag rather than keep a second process
      expect(records).toHaveLength(1);
      return;
    }
    expect(records).toHaveLength(2);
    expect(semiSpaceFlags(records[0].execArgv)).toEqual([]);
    expect(last.pid).toBe(records[0].pid);
    once(last.execArgv);
  });

  it('npm start: the demo proxy, through the bin, with the flag once', async () => {
    const npmStart = await startProxy(
      'npm',
      ['start', '--silent', '--', '--port', '0', '--metrics-port', '0', '--host', '127.0.0.1', '--metrics-host', '127.0.0.1', '--log', 'off'],
      { cwd: ROOT, env: cleanEnv({ PATH }) },
    );
    const descendants = (pid: number): number[] => childPids(pid).flatMap((c) => [c, ...descendants(c)]);
    const nodes = descendants(npmStart.child.pid!).filter((pid) => cmdline(pid).includes('bin/tokentap.cjs'));
    try {
      expect(nodes).toHaveLength(1);
      expect(semiSpaceFlags(cmdline(nodes[0]))).toEqual([FLAG]);
      const r = await streamChat(npmStart.proxyUrl);
      expect(r.text).not.toBe('');
      expect(r.done).toBe(true);
    } finally {
      // npm does not pass SIGTERM on to the script: stop tokentap itself, and npm ends with it
      for (const pid of nodes.length ? nodes : descendants(npmStart.child.pid!)) process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => npmStart.child.kill('SIGKILL'), 10_000);
      expect(await npmStart.exited).toBe(0);
      clearTimeout(timer);
    }
  });

  it('a size the user chose, on the command line or in NODE_OPTIONS, is left as it is', () => {
    const chosen = probe(process.execPath, ['--max-semi-space-size=16', BIN, '--version']);
    expect(chosen.records).toHaveLength(1);
    expect(semiSpaceFlags(chosen.last.execArgv)).toEqual(['--max-semi-space-size=16']);
    const viaEnv = probe(process.execPath, [BIN, '--version'], { NODE_OPTIONS: '--max-semi-space-size=16' });
    expect(viaEnv.records).toHaveLength(1);
    expect(semiSpaceFlags(viaEnv.last.execArgv)).toEqual([]);
  });

  it('one value everywhere: the shebang, npm start, the Dockerfile, the cluster workers (src/cluster.ts)', () => {
    expect(pkg.bin).toEqual({ tokentap: 'bin/tokentap.cjs' });
    expect(pkg.files).toContain('bin');
    expect(pkg.scripts.start.split(' ')).toEqual(['node', FLAG, 'bin/tokentap.cjs', '--demo']);
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const entrypoint = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(dockerfile)![1]) as string[];
    expect(entrypoint).toEqual(['node', FLAG, '/app/bin/tokentap.cjs']);
    const values = new Set(
      [readFileSync(BIN, 'utf8'), pkg.scripts.start, dockerfile, readFileSync(join(ROOT, 'src', 'cluster.ts'), 'utf8')].flatMap((text) =>
        [...text.matchAll(/--max-semi-space-size=(\d+)/g)].map((m) => m[1]),
      ),
    );
    expect([...values]).toEqual(['4']);
  });
});
