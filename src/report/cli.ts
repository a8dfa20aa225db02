/** `tokentap usage FILE…`: flags → read the access logs → aggregate → print the report; returns the exit code. */
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_GROUPS, GROUP_KEYS, TooManyGroupsError, UsageAggregator, type GroupKey } from './aggregate.js';
import { parseEntry } from './entry.js';
import { EXACT_MAX, RELATIVE_ACCURACY } from './latency.js';
import { FORMATS, formatReport, type Format, type ReportMeta } from './format.js';
import { checkSources, readLines } from './line-source.js';
import { parseSort, sortRows } from './sort.js';
import { inRange, parseTimeRange, UsageError } from './time-range.js';

export const USAGE_HELP = `Usage: tokentap usage [options] FILE...

Usage report from tokentap's access logs (tokentap --log FILE): requests, errors, tokens, cost and latency
per user, API key, model, endpoint, day or hour. FILEs are plain or gzip (rotated files too, e.g.
access.log access.log.1 access.log.2.gz, in any order); - reads stdin. Lines that are not tokentap's
entries are counted on stderr and skipped. Streams: memory does not grow with the number of lines.

Window (UTC; entries with from <= ts < to)
  --since D               the last D: 90s, 30m, 24h, 7d, 2w
  --from T                from T: 2026-11-01, 2026-11-01T08:00, 2026-11-01T08:00:00+01:00
  --to T                  up to T (excluded): --from 2026-11-01 --to 2026-12-01 is November
Grouping and output
  --by KEYS               comma-separated: ${GROUP_KEYS.join(', ')} (default: one total row);
                          key = the API key's id (key_id), day/hour in UTC
  --format F              table (default), csv or json
  --sort FIELD[:asc|desc] requests, errors, prompt_tokens, cached_tokens, completion_tokens,
                          reasoning_tokens, tokens (prompt + completion), cost, unpriced, ttft_p50_ms,
                          ttft_p95_ms, e2e_p95_ms (largest first) or a --by key (A-Z, oldest first);
                          default: by the --by keys
  --top N                 the first N rows after sorting (with no --sort: by requests, largest first);
                          the table's total row still covers every group
  --max-groups N          stop with an error past N groups (default ${DEFAULT_MAX_GROUPS}; up to ~10 KB each)
  -h, --help

Columns: requests; errors (outcome not ok); prompt/cached/completion/reasoning tokens (as the log has them:
prompt includes cached, completion includes reasoning); cost (sum of the entries' cost, in the config's
currency; - when none had one); unpriced (requests with tokens but no cost); TTFT p50/p95 (streaming
requests that got a first token) and E2E p95 (every request), in ms: exact for a group of up to ${EXACT_MAX}
values, else within ${RELATIVE_ACCURACY * 100}% of the exact value (a DDSketch: memory per group stays bounded).
Exit status: 0 ok; 1 a file could not be read to its end, or too many groups; 2 bad usage.`;

const OPTIONS = {
  since: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  by: { type: 'string' },
  format: { type: 'string' },
  sort: { type: 'string' },
  top: { type: 'string' },
  'max-groups': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function positiveInt(flag: string, v: string | undefined): number | null {
  if (v === undefined) return null;
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer, got "${v}"`);
  return n;
}

function parseBy(v: string | undefined): GroupKey[] {
  if (v === undefined) return [];
  const keys = v.split(',').map((k) => k.trim());
  for (const k of keys) {
    if (!(GROUP_KEYS as readonly string[]).includes(k)) {
      throw new UsageError(`--by: unknown key "${k}" (use a comma-separated list of ${GROUP_KEYS.join(', ')})`);
    }
  }
  const dup = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dup) throw new UsageError(`--by: "${dup}" is given twice`);
  return keys as GroupKey[];
}

const n = (v: number) => v.toLocaleString('en-US');
const say = (line: string) => void process.stderr.write(`tokentap usage: ${line}\n`);

/** Parses the flags and checks the files; throws UsageError (exit 2) before anything is read. */
function options(argv: string[], nowMs: number) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const v = parsed.values;
  if (v.help) return null;
  const by = parseBy(v.by);
  const format = (v.format ?? 'table') as Format;
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got "${v.format}"`);
  const range = parseTimeRange(v, nowMs);
  const top = positiveInt('--top', v.top);
  const sort = v.sort !== undefined ? parseSort(v.sort, by) : top !== null ? parseSort('requests', by) : null;
  const maxGroups = positiveInt('--max-groups', v['max-groups']) ?? DEFAULT_MAX_GROUPS;
  if (parsed.positionals.length === 0) {
    throw new UsageError('give one or more access log files (tokentap --log FILE writes one), or - for stdin');
  }
  const { sources, duplicates } = checkSources(parsed.positionals);
  return { by, format, range, top, sort, maxGroups, sources, duplicates };
}

export async function runUsageCli(argv: string[], nowMs = Date.now()): Promise<number> {
  let o;
  try {
    o = options(argv, nowMs);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    say(`${e.message}\n(see tokentap usage --help)`);
    return 2;
  }
  if (o === null) {
    process.stdout.write(`${USAGE_HELP}\n`);
    return 0;
  }
  for (const d of o.duplicates) say(`${d} is a file already given: read once`);

  const agg = new UsageAggregator(o.by, o.maxGroups);
  const lines = { read: 0, entries: 0, outside_window: 0, not_json: 0, not_tokentap: 0 };
  const { range } = o;
  const filtered = range.fromMs !== null || range.toMs !== null;
  const sink = {
    line(text: string) {
      if (text.length < 4 && text.trim() === '') return; // a blank line (\r, spaces) is not a line of anything
      lines.read++;
      const e = parseEntry(text);
      if (typeof e === 'string') lines[e]++;
      else if (filtered && !inRange(range, e.tsMs)) lines.outside_window++;
      else {
        lines.entries++;
        agg.add(e);
      }
    },
    tooLong() {
      lines.read++;
      lines.not_json++;
    },
  };

  let exit = 0;
  for (const source of o.sources) {
    const before = lines.read;
    try {
      await readLines(source, sink);
    } catch (e) {
      if (e instanceof TooManyGroupsError) {
        say(e.message);
        return 1;
      }
      const name = source === '-' ? 'stdin' : source;
      say(`${name}: ${(e as Error).message} after ${n(lines.read - before)} lines; the lines before it are counted`);
      exit = 1;
    }
  }

  const skipped = lines.not_json + lines.not_tokentap;
  if (skipped > 0) {
    say(
      `skipped ${n(skipped)} of ${n(lines.read)} lines that are not tokentap access-log entries ` +
        `(${n(lines.not_json)} not JSON, ${n(lines.not_tokentap)} without ts/outcome/e2e_ms)`,
    );
  }
  if (lines.entries === 0) {
    const outside = lines.outside_window ? `; ${n(lines.outside_window)} outside the window` : '';
    say(`no entries counted (${n(lines.read)} lines read${outside})`);
  }

  const { rows, total } = agg.result();
  const meta: ReportMeta = {
    from: range.fromMs === null ? null : new Date(range.fromMs).toISOString(),
    to: range.toMs === null ? null : new Date(range.toMs).toISOString(),
    by: o.by,
    lines,
    groups: agg.groupCount,
  };
  await write(formatReport(o.format, meta, sortRows(rows, o.by, o.sort, o.top), total));
  return exit;
}

/** Writes to stdout and waits for it to drain; a closed pipe (`| head`) is not an error. */
function write(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' ? resolve() : reject(e)));
    process.stdout.write(text, () => resolve());
  });
}
