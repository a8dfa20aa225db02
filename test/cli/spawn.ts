/** Runs the built `tokentap` command (dist/cli.js, built by `npm test`'s pretest) as a user does. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;

/** Only PATH and `env`: the caller's TOKENTAP_* variables never leak into the command under test. */
export const runCli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 10_000 });

export interface CliProcess {
  child: ChildProcess;
  stderr(): string;
  exited: Promise<number | null>;
  /** Resolves with the match once stderr matches `re` (rejects if the process exits first or after `timeoutMs`). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

export function startCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env } });
  let stderr = '';
  let exitCode: number | null | undefined;
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, signal) => {
      exitCode = code ?? (signal ? -1 : null);
      resolve(code);
    }),
  );
  const waitFor = async (re: RegExp, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(stderr);
      if (m) return m;
      if (exitCode !== undefined) throw new Error(`tokentap exited (${exitCode}) before printing ${re}:\n${stderr}`);
      if (Date.now() > deadline) throw new Error(`no ${re} in stderr within ${timeoutMs} ms:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { child, stderr: () => stderr, exited, waitFor };
}


/** The startup line's proxy and metrics URLs. */
export const STARTUP = /proxying (\S+) -> .*metrics at (\S+)\/metrics/;
