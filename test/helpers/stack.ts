/** Starts the simulator and tokentap on port 0 for one test file, with an access log in a temp dir. */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { RunningTokentap } from '../../src/server.js';
import { startSimulator, type RunningSim } from '../../src/sim/server.js';
import { scrape } from './prom.js';
import { startTap } from './tap.js';

export interface Stack {
  sim: RunningSim;
  tap: RunningTokentap;
  openai: OpenAI;
  logFile: string;
  metrics(): Promise<string>;
  logLines(): Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startStack(
  simOptions: Parameters<typeof startSimulator>[0] = {},
  tapOptions: Record<string, unknown> = {},
): Promise<Stack> {
  const sim = await startSimulator({ port: 0, ttftMs: 20, itlMs: 5, ...simOptions });
  const logFile = join(mkdtempSync(join(tmpdir(), 'tokentap-log-')), 'access.log');
  const tap = await startTap(sim.url, { access_log: logFile, ...tapOptions });
  const openai = new OpenAI({ baseURL: `${tap.proxyUrl}/v1`, apiKey: 'sk-test', maxRetries: 0 });
  return {
    sim,
    tap,
    openai,
    logFile,
    metrics: () => scrape(tap.metricsUrl),
    logLines: () => readLogLines(logFile),
    close: async () => {
      await tap.close();
      await sim.close();
    },
  };
}

/** The access log's entries so far (none while the file does not exist yet: it is opened asynchronously). */
export function readLogLines(logFile: string): Record<string, unknown>[] {
  return (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export { eventually } from './wait.js';
