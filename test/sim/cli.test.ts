import { describe, expect, it } from 'vitest';
import { parseSimArgs, runSimCli, SIM_USAGE } from '../../src/sim/cli.js';
import { CHAT_PATH, postJson, postSse } from './helpers.js';

class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
const io = (out: string[], err: string[]) => ({
  stdout: (l: string) => void out.push(l),
  stderr: (l: string) => void err.push(l),
  exit: (code: number): never => {
    throw new Exit(code);
  },
});

describe('tokentap sim CLI', () => {
  it('parses every option', () => {
    expect(
      parseSimArgs([
        '--port', '9000', '--host', '0.0.0.0', '--model', 'x/y', '--ttft-ms', '120', '--itl-ms', '7.5',
        '--output-tokens', '64', '--tokens-per-chunk', '4', '--reasoning-tokens', '8', '--error-rate', '0.25',
        '--seed', '3', '--faults', 'die,stall', '--reasoning-field', 'reasoning', '--cached-tokens', '5',
        '--flavor', 'openai',
      ]),
    ).toEqual({
      host: '0.0.0.0', port: 9000, model: 'x/y', ttftMs: 120, itlMs: 7.5, outputTokens: 64, tokensPerChunk: 4,
      reasoningTokens: 8, reasoningField: 'reasoning', cachedTokens: 5, errorRate: 0.25, faults: ['die', 'stall'], seed: 3,
      flavor: 'openai',
    });
    expect(parseSimArgs(['-h'])).toBe('help');
    expect(() => parseSimArgs(['--ttft-ms', 'soon'])).toThrow(/ttft-ms/);
    expect(() => parseSimArgs(['--faults', 'boom'])).toThrow(/boom/);
    expect(() => parseSimArgs(['--flavor', 'anthropic'])).toThrow(/--flavor must be vllm or openai/);
    expect(SIM_USAGE).toMatch(/--flavor <name> +streaming usage rules: vllm \| openai \(default vllm\)/);
    expect(() => parseSimArgs(['--bogus'])).toThrow();
  });

  it('starts the simulator and prints one listening line', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const sim = await runSimCli(['--port', '0', '--ttft-ms', '3', '--itl-ms', '1', '--output-tokens', '2', '--model', 'cli/model'], io(out, err));
    try {
      expect(out).toEqual([`tokentap sim: vLLM-compatible simulator listening on ${sim.url} (model cli/model, ttft 3 ms, itl 1 ms)`]);
      expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const r = await postJson(sim.url + CHAT_PATH, { model: 'm', messages: [{ role: 'user', content: 'x' }] });
      expect(r.json.usage.completion_tokens).toBe(2);
      expect(err).toEqual([]);
    } finally {
      await sim.close();
    }
  });

  it('--flavor openai: named in the listening line, and every chunk carries usage:null with include_usage', async () => {
    const out: string[] = [];
    const sim = await runSimCli(['--port', '0', '--ttft-ms', '1', '--itl-ms', '0', '--output-tokens', '2', '--flavor', 'openai'], io(out, []));
    try {
      expect(out[0]).toMatch(/\(model .*, ttft 1 ms, itl 0 ms, openai flavor\)$/);
      const s = await postSse(sim.url + CHAT_PATH, { model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true, stream_options: { include_usage: true } });
      const chunks = s.events.filter((e) => e.json?.choices?.length).map((e) => e.json);
      expect(chunks).toHaveLength(3);
      for (const c of chunks) expect(Object.keys(c).at(-1)).toBe('usage');
    } finally {
      await sim.close();
    }
  });

  it('--help prints usage and exits 0; bad options exit 2', async () => {
    const out: string[] = [];
    const err: string[] = [];
    await expect(runSimCli(['--help'], io(out, err))).rejects.toMatchObject({ code: 0 });
    expect(out.join('\n')).toBe(SIM_USAGE.trimEnd());
    await expect(runSimCli(['--port', 'x'], io(out, err))).rejects.toMatchObject({ code: 2 });
    await expect(runSimCli(['--error-rate', '2'], io(out, err))).rejects.toMatchObject({ code: 2 });
    expect(err.join('\n')).toMatch(/--port expects a number/);
    expect(err.join('\n')).toMatch(/errorRate/);
  });
});
