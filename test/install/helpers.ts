/** Shared by the install-route tests: run an installed `tokentap`, talk to it, look at its process. */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
export const FLAG = '--max-semi-space-size=4';

/** The arguments a process was started with (its node and V8 flags included), from /proc. */
export function cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
}

/** Every --max-semi-space-size argument (any spelling V8 accepts) among a process's arguments. */
export const semiSpaceFlags = (args: readonly string[]) =>
  args.filter((a) => a.replace(/_/g, '-').startsWith('--max-semi-space-size'));

/** Processes whose parent is `pid` (/proc/<pid>/task/<pid>/children is not on every kernel). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export interface RunningProxy {
  child: ChildProcessWithoutNullStreams;
  proxyUrl: string;
  metricsUrl: string;
  stderr(): string;
  /** The exit code, once it has exited. */
  exited: Promise<number | null>;
  /** SIGTERM, resolving to the exit code. */
  stop(): Promise<number | null>;
}

/** Starts a tokentap command and waits for its startup line on stderr (as test/cli/cli.test.ts reads it). */
export async function startProxy(
  command: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; ready?: RegExp } = {},
): Promise<RunningProxy> {
  const child = spawn(command, args, { env: opts.env ?? { PATH: process.env.PATH }, cwd: opts.cwd });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  let spawnError: Error | undefined;
  void exited.then((code) => (exitCode = code));
  child.on('error', (err) => (spawnError = err)); // e.g. ENOENT: no 'exit' follows
  const ready = opts.ready ?? /metrics at (\S+)\/metrics/;
  const deadline = Date.now() + 20_000;
  while (!ready.test(stderr)) {
    const problem = spawnError
      ? spawnError.message
      : exitCode !== undefined
        ? `exited with ${exitCode} before it was ready`
        : Date.now() > deadline
          ? 'no startup line within 20 s'
          : undefined;
    if (problem) {
      child.kill('SIGKILL');
      throw new Error(`${command}: ${problem}; stderr:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    child,
    proxyUrl: /proxying (\S+) ->/.exec(stderr)![1],
    metricsUrl: /metrics at (\S+)\/metrics/.exec(stderr)![1],
    stderr: () => stderr,
    exited,
    stop: () => {
      if (exitCode === undefined) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A streamed chat completion: the text of its deltas and whether the stream ended with data: [DONE]. */
export async function streamChat(baseUrl: string, model = 'install'): Promise<{ status: number; text: string; done: boolean }> {
  const res = await fetch(`${baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream: true, max_tokens: 6, messages: [{ role: 'user', content: 'say something' }] }),
  });
  const body = await res.text();
  const data = body
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => l.slice(6).trim());
  let text = '';
  for (const d of data) {
    if (d === '[DONE]') continue;
    const chunk = JSON.parse(d) as { choices?: { delta?: { content?: string } }[] };
    text += chunk.choices?.[0]?.delta?.content ?? '';
  }
  return { status: res.status, text, done: data.at(-1) === '[DONE]' };
}

/**
 * The environment without what `npm test` put in it (npm_config_local_prefix and friends would point a nested
 * npm at this project instead of the folder it runs in).
 */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_|^INIT_CWD$/i.test(k)));
  return { ...env, ...extra };
}

/** Runs npm (the one on PATH, under the node on PATH) and fails with its output when it fails. */
export function npm(args: string[], cwd: string, timeout = 180_000): string {
  const r = spawnSync('npm', [...args, '--no-audit', '--no-fund', '--no-update-notifier'], {
    cwd,
    encoding: 'utf8',
    env: cleanEnv({ npm_config_loglevel: 'warn' }),
    timeout,
  });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} (in ${cwd}) exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
