/**
 * `tokentap sim [options]`: run the vLLM-compatible simulator.
 */
import { parseArgs } from 'node:util';
import { FAULT_NAMES, SIM_DEFAULTS, SIM_FLAVORS, isFaultName, isFlavor, type FaultName, type SimOptions } from './options.js';
import { startSimulator, type RunningSim } from './server.js';

export const SIM_USAGE = `Usage: tokentap sim [options]

Runs a simulated vLLM OpenAI-compatible server (no GPU, no model): exact,
deterministic token counts, configurable timing and injectable faults.

Options:
  --host <addr>              listen address (default ${SIM_DEFAULTS.host})
  --port <n>                 listen port, 0 = any free port (default ${SIM_DEFAULTS.port})
  --model <name>             model listed by /v1/models (default ${SIM_DEFAULTS.model})
  --ttft-ms <ms>             request received -> first token chunk (default ${SIM_DEFAULTS.ttftMs})
  --itl-ms <ms>              gap between token chunks (default ${SIM_DEFAULTS.itlMs})
  --output-tokens <n>        output length when the request sets no max tokens (default ${SIM_DEFAULTS.outputTokens})
  --tokens-per-chunk <n>     tokens per streamed chunk (default ${SIM_DEFAULTS.tokensPerChunk})
  --reasoning-tokens <n>     reasoning tokens before the content (default ${SIM_DEFAULTS.reasoningTokens})
  --reasoning-field <name>   reasoning_content | reasoning (default ${SIM_DEFAULTS.reasoningField})
  --cached-tokens <n>        reported prompt_tokens_details.cached_tokens (default ${SIM_DEFAULTS.cachedTokens})
  --error-rate <p>           probability 0..1 of a random fault per generation request (default ${SIM_DEFAULTS.errorRate})
  --faults <list>            comma-separated faults the random picker uses
                             (default ${SIM_DEFAULTS.faults.join(',')}; all: ${FAULT_NAMES.join(',')})
  --seed <n>                 seed of the random fault picker (default ${SIM_DEFAULTS.seed})
  --flavor <name>            streaming usage rules: ${SIM_FLAVORS.join(' | ')} (default ${SIM_DEFAULTS.flavor});
                             openai: with include_usage every chunk ends with "usage":null,
                             and stream_options {} asks for no usage (vllm: it does)
  --max-num-seqs <n>         requests running at once, later ones queue; 0 = unlimited (default ${SIM_DEFAULTS.maxNumSeqs})
  --kv-cache-tokens <n>      KV cache size in tokens for vllm:kv_cache_usage_perc (default ${SIM_DEFAULTS.kvCacheTokens})
  -h, --help                 show this help

Per-request overrides (request headers): x-sim-ttft-ms, x-sim-itl-ms,
x-sim-output-tokens, x-sim-tokens-per-chunk, x-sim-reasoning-tokens,
x-sim-cached-tokens, x-sim-tool-call: 1, x-sim-fault: <fault>,
x-sim-fault-after: <token chunks> (default 2), x-sim-flavor: vllm|openai.

Through tokentap, x-sim-fault: stall and no-headers last until tokentap gives up
on the upstream: upstream_idle_timeout (default 300 s) for stall and
upstream_headers_timeout (default 600 s) for no-headers. tokentap --demo sets
them to 10 s and 30 s unless configured.
`;

export interface SimCliIo {
  stdout?: (line: string) => void;
  stderr?: (line: string) => void;
  /** Called for --help (0) and usage errors (2). Defaults to process.exit. */
  exit?: (code: number) => never;
}

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new Error(`--${name} expects a number, got "${v}"`);
  return n;
}

export function parseSimArgs(argv: string[]): SimOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      model: { type: 'string' },
      'ttft-ms': { type: 'string' },
      'itl-ms': { type: 'string' },
      'output-tokens': { type: 'string' },
      'tokens-per-chunk': { type: 'string' },
      'reasoning-tokens': { type: 'string' },
      'reasoning-field': { type: 'string' },
      'cached-tokens': { type: 'string' },
      'error-rate': { type: 'string' },
      faults: { type: 'string' },
      seed: { type: 'string' },
      flavor: { type: 'string' },
      'max-num-seqs': { type: 'string' },
      'kv-cache-tokens': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  let faults: FaultName[] | undefined;
  if (values.faults !== undefined) {
    const list = values.faults.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const bad = list.filter((f) => !isFaultName(f));
    if (bad.length > 0) throw new Error(`--faults: unknown fault(s) ${bad.join(', ')}`);
    faults = list as FaultName[];
  }
  const rf = values['reasoning-field'];
  if (rf !== undefined && rf !== 'reasoning_content' && rf !== 'reasoning') {
    throw new Error('--reasoning-field must be reasoning_content or reasoning');
  }
  const flavor = values.flavor;
  if (flavor !== undefined && !isFlavor(flavor)) throw new Error(`--flavor must be ${SIM_FLAVORS.join(' or ')}`);
  return {
    host: values.host,
    port: num('port', values.port),
    model: values.model,
    ttftMs: num('ttft-ms', values['ttft-ms']),
    itlMs: num('itl-ms', values['itl-ms']),
    outputTokens: num('output-tokens', values['output-tokens']),
    tokensPerChunk: num('tokens-per-chunk', values['tokens-per-chunk']),
    reasoningTokens: num('reasoning-tokens', values['reasoning-tokens']),
    reasoningField: rf,
    cachedTokens: num('cached-tokens', values['cached-tokens']),
    errorRate: num('error-rate', values['error-rate']),
    faults,
    seed: num('seed', values.seed),
    flavor,
    maxNumSeqs: num('max-num-seqs', values['max-num-seqs']),
    kvCacheTokens: num('kv-cache-tokens', values['kv-cache-tokens']),
  };
}

/** Parse argv, start the simulator and print one "listening" line. */
export async function runSimCli(argv: string[], io: SimCliIo = {}): Promise<RunningSim> {
  const out = io.stdout ?? ((l: string) => process.stdout.write(l + '\n'));
  const err = io.stderr ?? ((l: string) => process.stderr.write(l + '\n'));
  const exit = io.exit ?? ((code: number) => process.exit(code));
  let opts: SimOptions | 'help';
  try {
    opts = parseSimArgs(argv);
  } catch (e) {
    err(`tokentap sim: ${(e as Error).message}`);
    err('Run "tokentap sim --help" for usage.');
    return exit(2);
  }
  if (opts === 'help') {
    out(SIM_USAGE.trimEnd());
    return exit(0);
  }
  let sim: RunningSim;
  try {
    sim = await startSimulator(opts);
  } catch (e) {
    err(`tokentap sim: ${(e as Error).message}`);
    return exit(2);
  }
  const o = sim.options;
  const flavor = o.flavor === SIM_DEFAULTS.flavor ? '' : `, ${o.flavor} flavor`; // named only when it is not vLLM's
  out(`tokentap sim: vLLM-compatible simulator listening on ${sim.url} (model ${o.model}, ttft ${o.ttftMs} ms, itl ${o.itlMs} ms${flavor})`);
  return sim;
}
