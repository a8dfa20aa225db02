/**
 * The processes of the overhead benchmark, each its own OS process: the simulator and tokentap
 * (`node dist/cli.js …`) and nginx (generated config, `-p` prefix dir, `daemon off`,
 * `worker_processes 1`, `proxy_buffering off`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Last lines of stderr, for error messages. */
  log(): string;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound and released; fine on a quiet machine). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function startProc(name: string, cmd: string, args: string[], cwd?: string, env?: Record<string, string>): Proc {
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: env && { ...process.env, ...env } });
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    tail = (tail + d).slice(-4000);
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  const pid = child.pid;
  let stopping = false;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code, signal) => {
    if (!stopping) process.stderr.write(`!! ${name} (pid ${pid}) exited unexpectedly: code ${code} signal ${signal}\n${tail}\n`);
  });
  return {
    name,
    child,
    pid,
    log: () => tail,
    stop: async () => {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const done = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
      if (!done) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** Polls `url` until it answers 2xx, or throws with the process's stderr. */
export async function waitHttp(url: string, proc: Proc, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited (${proc.child.exitCode}):\n${proc.log()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`${proc.name} not ready at ${url}:\n${proc.log()}`);
    await sleep(50);
  }
}

/** The process once its port answers `/v1/models`, with its base URL. */
async function listening(proc: Proc, port: number): Promise<{ proc: Proc; url: string }> {
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/v1/models`, proc);
  return { proc, url };
}

export interface SimConfig {
  ttftMs: number;
  itlMs: number;
  outputTokens: number;
}

export async function startSimProc(cli: string, cfg: SimConfig): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const proc = startProc('simulator', process.execPath, [
    cli, 'sim', '--host', '127.0.0.1', '--port', String(port),
    '--ttft-ms', String(cfg.ttftMs), '--itl-ms', String(cfg.itlMs), '--output-tokens', String(cfg.outputTokens),
  ]);
  return listening(proc, port);
}

/** The Node flags tokentap runs with as deployed (`npm start`, the Docker image); the floor gets the same. */
const DEPLOYED_NODE_FLAGS = '--max-semi-space-size=4';

/** `env`: extra environment (the traced targets' TOKENTAP_TRACING_*; tracing is off otherwise). */
export async function startTokentapProc(cli: string, upstream: string, workers = 1, env: Record<string, string> = { OTEL_TRACES_EXPORTER: 'none' }, name = 'tokentap'): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const metricsPort = await freePort();
  // Node flags for the tokentap process only: by default those `npm start` and the Docker image use;
  // TOKENTAP_BENCH_NODE_FLAGS overrides them (set it to ' ' for none) to compare runtime settings.
  const nodeFlags = (process.env.TOKENTAP_BENCH_NODE_FLAGS ?? DEPLOYED_NODE_FLAGS).split(' ').filter(Boolean);
  // Full metering, as deployed: the access log is on (a file, one JSON line per request).
  const accessLog = join(mkdtempSync(join(tmpdir(), 'tokentap-bench-')), 'access.log');
  const proc = startProc(name, process.execPath, [
    ...nodeFlags, cli, '--upstream', upstream, '--host', '127.0.0.1', '--port', String(port),
    '--metrics-host', '127.0.0.1', '--metrics-port', String(metricsPort), '--log', accessLog,
    '--workers', String(workers),
  ], undefined, env);
  return listening(proc, port);
}

/** bench/bare-proxy.mjs (node:http + undici, no metering): the floor tokentap is compared with. */
export async function startBareProxyProc(script: string, upstream: string): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const proc = startProc('bare proxy', process.execPath, [DEPLOYED_NODE_FLAGS, script], undefined, {
    PORT: String(port),
    UPSTREAM: upstream,
  });
  return listening(proc, port);
}

export function nginxVersion(): string | null {
  const r = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  return (r.stderr || r.stdout).trim().replace(/^nginx version:\s*/, '');
}

export function nginxConfig(dir: string, port: number, upstream: string, workers = 1): string {
  const u = new URL(upstream);
  return `# generated by tokentap bench:overhead
worker_processes ${workers};
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  upstream sim {
    server ${u.host};
    keepalive 1024;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://sim;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 600s;
    }
  }
}
`;
}

export async function startNginxProc(upstream: string, workers = 1): Promise<{ proc: Proc; url: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tokentap-nginx-'));
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'logs']) mkdirSync(join(dir, d));
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, port, upstream, workers));
  const proc = startProc('nginx', 'nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')]);
  return listening(proc, port);
}
