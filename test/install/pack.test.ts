/**
 * The install routes that need no registry for tokentap itself, each run for real on a copy of this checkout:
 *  - `npm pack` in a clone without dist/ (its `prepare` builds it), then `npm install -g --prefix <tmp> <tarball>`
 *    (the dependencies come from the npm registry or npm's cache): proves the `files` list, the bin and the
 *    dependencies, since nothing of this checkout is reachable from the install;
 *  - `npm install -g .` in that clone (a link to it);
 *  - the Docker image's runtime stage, laid out from the Dockerfile's COPY lines without a Docker engine and
 *    started with its ENTRYPOINT and ENV (the image build itself needs an engine: not run here).
 * Each one proxies a streamed request to the simulator, and its node process (and, with --workers, each worker's)
 * has --max-semi-space-size=4 exactly once on its command line (/proc/<pid>/cmdline).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSim } from '../../src/sim/server.js';
import { eventually } from '../helpers/wait.js';
import { childPids, cmdline, FLAG, npm, ROOT, semiSpaceFlags, startProxy, streamChat } from './helpers.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; files: string[] };
const PATH = `${dirname(process.execPath)}:${process.env.PATH}`;
const LISTEN = ['--port', '0', '--metrics-port', '0', '--host', '127.0.0.1', '--metrics-host', '127.0.0.1', '--log', 'off'];

const tmp = mkdtempSync(join(tmpdir(), 'tokentap-install-'));
const clone = join(tmp, 'clone');
const prefix = join(tmp, 'prefix');
const installed = join(prefix, 'lib', 'node_modules', pkg.name);
let packed: { filename: string; files: { path: string; mode: number }[] };
let sim: RunningSim;
let expectedText: string;

beforeAll(async () => {
  sim = await startSimulator({ port: 0, ttftMs: 2, itlMs: 1 });
  expectedText = (await streamChat(sim.url)).text;
  // A clone after `npm ci`: the sources and the manifest, node_modules, no dist/.
  mkdirSync(clone);
  const sources = ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'tsconfig.build.json', 'src', 'README.md', 'LICENSE'];
  for (const f of new Set([...sources, ...pkg.files.filter((f) => f !== 'dist')])) {
    if (existsSync(join(ROOT, f)) || !['README.md', 'LICENSE'].includes(f)) cpSync(join(ROOT, f), join(clone, f), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
  const out = npm(['pack', '--json', '--pack-destination', tmp], clone);
  packed = (JSON.parse(out.slice(out.indexOf('[\n'))) as (typeof packed)[])[0];
  npm(['install', '-g', '--prefix', prefix, '--prefer-offline', join(tmp, packed.filename)], tmp);
}, 300_000);

afterAll(async () => {
  await sim?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Starts a route's command, checks the flag on its process and a streamed request through it, stops it. */
async function proxiesWithTheFlag(command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; workers?: number } = {}) {
  const p = await startProxy(command, [...args, '--upstream', sim.url, ...LISTEN, ...(opts.workers ? ['--workers', String(opts.workers)] : [])], {
    env: opts.env ?? { PATH },
    cwd: opts.cwd,
    ready: opts.workers ? /with \d+ workers; metrics at/ : undefined,
  });
  try {
    const args = cmdline(p.child.pid!);
    expect(semiSpaceFlags(args), args.join(' ')).toEqual([FLAG]);
    if (opts.workers) {
      let workers: number[] = [];
      await eventually(() => (workers = childPids(p.child.pid!)).length === opts.workers, 5000);
      for (const w of workers) expect(semiSpaceFlags(cmdline(w)), cmdline(w).join(' ')).toEqual([FLAG]);
    }
    const r = await streamChat(p.proxyUrl);
    expect(r.status).toBe(200);
    expect(r.text).not.toBe('');
    expect(r.text).toBe(expectedText);
    expect(r.done).toBe(true);
    return args;
  } finally {
    expect(await p.stop()).toBe(0);
  }
}

describe('npm pack, then npm install -g <tarball>', () => {
  it('the tarball: the bin (executable), dist/ built by prepare, the systemd files, the config example; no sources', () => {
    const paths = packed.files.map((f) => f.path);
    for (const p of ['package.json', 'bin/tokentap.cjs', 'dist/cli.js', 'dist/sim/server.js', 'config.example.yaml', 'deploy/systemd/tokentap.service', 'deploy/systemd/tokentap.env']) {
      expect(paths).toContain(p);
    }
    expect(paths.filter((p) => /^(src|test|bench)\/|\.ts$/.test(p) && !p.endsWith('.d.ts'))).toEqual([]);
    expect(packed.files.find((f) => f.path === 'bin/tokentap.cjs')!.mode & 0o111).not.toBe(0);
  });

  it('<prefix>/bin/tokentap --version and --help', () => {
    const bin = join(prefix, 'bin', 'tokentap');
    const version = spawnSync(bin, ['--version'], { encoding: 'utf8', env: { PATH } });
    expect(version.stderr).toBe('');
    expect(version.stdout).toBe(`${pkg.version}\n`);
    expect(spawnSync(bin, ['--help'], { encoding: 'utf8', env: { PATH } }).stdout).toMatch(/--upstream URL/);
    // the dependencies are the install's own (production ones only), not this checkout's
    expect(existsSync(join(installed, 'node_modules', 'prom-client'))).toBe(true);
    expect(existsSync(join(installed, 'node_modules', 'typescript'))).toBe(false);
  });

  it('the installed tokentap proxies a streamed request; its node runs with --max-semi-space-size=4 once', async () => {
    const args = await proxiesWithTheFlag(join(prefix, 'bin', 'tokentap'), []);
    expect(args[2]).toBe(join(prefix, 'bin', 'tokentap')); // node, the flag, the command: one process, no re-exec
  });

  it('the installed tokentap with --workers 2: the primary and both workers have the flag once', async () => {
    await proxiesWithTheFlag(join(prefix, 'bin', 'tokentap'), [], { workers: 2 });
  });
});

describe('npm install -g . in a clone', () => {
  it('links the clone; the linked tokentap proxies, with the flag once', async () => {
    const linkPrefix = join(tmp, 'link-prefix');
    // --ignore-scripts: `prepare` (the build) already ran in this clone for npm pack; a user's run does it again
    npm(['install', '-g', '--prefix', linkPrefix, '--ignore-scripts', '.'], clone);
    expect(lstatSync(join(linkPrefix, 'lib', 'node_modules', pkg.name)).isSymbolicLink()).toBe(true);
    const bin = join(linkPrefix, 'bin', 'tokentap');
    expect(spawnSync(bin, ['--version'], { encoding: 'utf8', env: { PATH } }).stdout).toBe(`${pkg.version}\n`);
    await proxiesWithTheFlag(bin, []);
  });
});

interface Stage {
  name?: string;
  instructions: { op: string; args: string }[];
}

/** The Dockerfile's stages and instructions (continuation lines joined, comments dropped). */
function dockerStages(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  for (const line of lines) {
    const [, op, args] = /^(\S+)\s+(.*)$/.exec(line)!;
    if (op.toUpperCase() === 'FROM') stages.push({ name: /\sAS\s+(\S+)/i.exec(args)?.[1], instructions: [] });
    else stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args });
  }
  return stages;
}

describe('the Docker image (runtime stage, without an engine)', () => {
  it('laid out from its COPY lines and started with its ENTRYPOINT and ENV: proxies, with the flag once; HEALTHCHECK passes', async () => {
    const stages = dockerStages(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    const runtime = stages.at(-1)!;
    expect(runtime.name).toBe('runtime');
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const app = join(tmp, 'image', 'app');
    const env: Record<string, string> = { PATH };
    let workdir: string | undefined;
    let entrypoint: string[] = [];
    let cmd: string[] = [];
    let healthcheck: string[] = [];
    const inImage = (p: string) => p.replace(/^\/app(?=\/|$)/, app);
    for (const { op, args } of runtime.instructions) {
      if (op === 'WORKDIR') workdir = args;
      else if (op === 'ENV') for (const m of args.matchAll(/(\w+)=(\S+)/g)) env[m[1]] = m[2];
      else if (op === 'ENTRYPOINT') entrypoint = JSON.parse(args) as string[];
      else if (op === 'CMD') cmd = JSON.parse(args) as string[];
      else if (op === 'HEALTHCHECK') healthcheck = JSON.parse(/\bCMD\s+(\[.*\])$/.exec(args)![1]) as string[];
      else if (op === 'COPY') {
        const words = args.split(/\s+/);
        const from = /^--from=(\S+)$/.exec(words[0])?.[1];
        const srcs = words.slice(from ? 1 : 0, -1);
        const dest = words.at(-1)!;
        expect(workdir).toBe('/app');
        for (const src of srcs) {
          // COPY x dir/ puts x into dir/; COPY x name copies x as name
          const target = dest.endsWith('/') ? join(app, dest, basename(src)) : join(app, dest);
          // what the earlier stages produce, from this test's own build and install of the same package.json
          const source =
            from === 'deps' && src === '/app/node_modules'
              ? join(installed, 'node_modules') // `npm ci --omit=dev`: production dependencies only
              : from === 'build' && src === '/app/dist'
                ? join(clone, 'dist') // `npm ci` runs prepare = npm run build
                : from === undefined
                  ? join(ROOT, src)
                  : undefined;
          if (source === undefined) throw new Error(`this test has no stand-in for: COPY ${args}`);
          if (from === undefined) {
            expect(ignored.filter((p) => p === src || p === `**/${src}` || p === `${src}/`), `.dockerignore vs COPY ${src}`).toEqual([]);
          }
          mkdirSync(dirname(target), { recursive: true });
          cpSync(source, target, { recursive: true });
        }
      }
    }
    expect(entrypoint[0]).toBe('node');
    expect(existsSync(join(app, 'node_modules', 'typescript'))).toBe(false);
    const image = await startProxy(entrypoint[0], [...entrypoint.slice(1).map(inImage), ...cmd, '--upstream', sim.url, ...LISTEN], {
      env,
      cwd: app,
    });
    try {
      const args = cmdline(image.child.pid!);
      expect(semiSpaceFlags(args), args.join(' ')).toEqual([FLAG]);
      const r = await streamChat(image.proxyUrl);
      expect(r.text).toBe(expectedText);
      expect(r.done).toBe(true);
      const metricsPort = new URL(image.metricsUrl).port;
      expect(healthcheck[0]).toBe('node');
      const health = spawnSync(healthcheck[0], healthcheck.slice(1), { env: { ...env, TOKENTAP_METRICS_PORT: metricsPort }, encoding: 'utf8' });
      expect(health.status, health.stderr).toBe(0);
    } finally {
      expect(await image.stop()).toBe(0);
    }
  });
});
