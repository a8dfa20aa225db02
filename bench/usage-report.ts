/**
 * `npm run bench:usage [-- --lines N --runs R --by KEYS --gzip]`: writes a synthetic access log of N lines
 * (default 1,000,000; bench/usage-log.ts), then times `tokentap usage` on it R times (default 3) as a user
 * runs it (bin/tokentap.cjs, with its --max-semi-space-size=4; a child process), printing the wall time,
 * lines/s and the child's peak RSS.
 * Compare the peak RSS of --lines 1000000 and --lines 3000000: it must not grow with the lines.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { syntheticEntries } from './usage-log.ts';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    by: { type: 'string', default: 'user,model' },
    gzip: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(`Usage: npm run bench:usage [-- --lines N --runs R --by KEYS --gzip]
  --lines N   access log lines to generate (default 1000000)
  --runs R    timed runs of tokentap usage (default 3)
  --by KEYS   its --by (default user,model)
  --gzip      write the log gzipped
Prints each run's wall time, lines/s and peak RSS.
`);
  process.exit(0);
}
const lines = Number(values.lines);
const runs = Number(values.runs);
const bin = new URL('../bin/tokentap.cjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'tokentap-usage-bench-'));
const file = join(dir, values.gzip ? 'access.log.gz' : 'access.log');

let t0 = performance.now();
const fd = openSync(values.gzip ? `${file}.tmp` : file, 'w');
let batch: string[] = [];
// One entry every 600 ms on average: a million lines span about a week.
for (const e of syntheticEntries(lines, { seed: 7, users: 500, startMs: Date.now() - lines * 600, gapMs: 600 })) {
  batch.push(JSON.stringify(e));
  if (batch.length === 10_000) {
    writeSync(fd, batch.join('\n') + '\n');
    batch = [];
  }
}
if (batch.length) writeSync(fd, batch.join('\n') + '\n');
closeSync(fd);
if (values.gzip) {
  // Fine for a benchmark (it holds the plain file in memory once); tokentap usage itself streams.
  const { readFileSync, writeFileSync } = await import('node:fs');
  writeFileSync(file, gzipSync(readFileSync(`${file}.tmp`)));
  rmSync(`${file}.tmp`);
}
const mb = (statSync(file).size / 1e6).toFixed(0);
console.log(`wrote ${lines.toLocaleString('en-US')} lines (${mb} MB${values.gzip ? ' gzip' : ''}) in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${file}`);

// The child prints its own peak RSS (getrusage ru_maxrss) as it exits.
const RSS_HOOK = `data:text/javascript,process.on("exit",()=>process.stderr.write("maxrss_kb="+process.resourceUsage().maxRSS+"\\n"))`;
const args = ['--import', RSS_HOOK, bin, 'usage', '--by', values.by, file];
console.log(`command: tokentap usage --by ${values.by} ${values.gzip ? 'access.log.gz' : 'access.log'}`);
for (let i = 1; i <= runs; i++) {
  t0 = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    console.error(r.stderr);
    process.exit(1);
  }
  const rss = Number(/maxrss_kb=(\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
  const rows = r.stdout.trim().split('\n').length - 4; // header, rule, rule, total
  console.log(
    `run ${i}: ${s.toFixed(2)} s, ${Math.round(lines / s).toLocaleString('en-US')} lines/s, peak RSS ${rss.toFixed(0)} MiB, ${rows} rows`,
  );
}
rmSync(dir, { recursive: true, force: true });
