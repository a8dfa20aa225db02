/**
 * A real Prometheus for tests: the `prometheus` binary on a free loopback port, with a config (and rule files)
 * written to a temporary directory and exemplar storage on, as deploy/ runs it. `api()` queries its HTTP API;
 * `close()` stops it and removes the directory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { freePort } from './ports.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RunningPrometheus {
  url: string;
  /** Its directory: prometheus.yml, the files given, data/. */
  dir: string;
  /** Everything it printed so far (for failure messages). */
  log(): string;
  /** Exits with an error naming the cause unless it is running. */
  assertRunning(): void;
  /** `GET {path}?{params}` on its API: the whole answer (status, data, error). */
  api<T = unknown>(path: string, params?: Record<string, string>): Promise<{ status: string; data: T; error?: string }>;
  /** The same, returning `data`, or throwing with the API's error. */
  data<T = unknown>(path: string, params?: Record<string, string>): Promise<T>;
  /** Resolves when /-/ready answers 200 (throws if it exits or is not ready within `timeoutMs`). */
  ready(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts `binary` with `config` (an object written as prometheus.yml) and `files` (name → text) beside it. */
export async function startPrometheus(binary: string, config: unknown, files: Record<string, string> = {}): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'tokentap-prometheus-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, 'prometheus.yml'), toYaml(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let printed = '';
  const proc: ChildProcess = spawn(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--enable-feature=exemplar-storage',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout?.on('data', (b: Buffer) => (printed += b.toString()));
  proc.stderr?.on('data', (b: Buffer) => (printed += b.toString()));
  const assertRunning = () => {
    if (proc.exitCode !== null) throw new Error(`prometheus exited with ${proc.exitCode}:\n${printed}`);
  };
  const api = async <T>(path: string, params: Record<string, string> = {}) => {
    const res = await fetch(`${url}${path}?${new URLSearchParams(params)}`);
    return (await res.json()) as { status: string; data: T; error?: string };
  };
  return {
    url,
    dir,
    log: () => printed,
    assertRunning,
    api,
    async data<T>(path: string, params: Record<string, string> = {}) {
      const body = await api<T>(path, params);
      if (body.status !== 'success') throw new Error(`${path}: ${body.error}`);
      return body.data;
    },
    async ready(timeoutMs = 30_000) {
      for (const start = Date.now(); ; await sleep(200)) {
        assertRunning();
        if (await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)) return;
        if (Date.now() - start > timeoutMs) throw new Error(`prometheus not ready after ${timeoutMs / 1000} s:\n${printed}`);
      }
    },
    async close() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, sleep(5_000).then(() => proc.kill('SIGKILL'))]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
