/**
 * `tokentap usage` end to end: the built CLI (a child process) on real files — a generated log split into a
 * .gz and a plain file given in reversed order, with lines that are not tokentap's mixed in — against
 * totals the test sums itself.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { syntheticEntries } from '../../bench/usage-log.ts';
import { CLI } from '../cli/spawn.js';
import { checkRows, csvRecords, expectedGroups } from './expected.js';

const usage = (args: string[], input?: string | Buffer) =>
  spawnSync(process.execPath, [CLI, 'usage', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH }, input, timeout: 60_000 });

const json = (args: string[]) => {
  const r = usage([...args, '--format', 'json']);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { rows: Record<string, unknown>[]; total: Record<string, unknown>; lines: Record<string, number>; groups: number };
};

const dir = mkdtempSync(join(tmpdir(), 'tokentap-usage-'));
const entries = [...syntheticEntries(3000, { seed: 42, users: 40, gapMs: 90_000, oldShare: 0.1 })] as unknown as Record<string, unknown>[];
const older = entries.slice(0, 1800);
const newer = entries.slice(1800);
const rotated = join(dir, 'access.log.1.gz');
const current = join(dir, 'access.log');
/** Lines that are not entries: 3 not JSON (one a cut entry), 4 JSON without ts/outcome/e2e_ms (or a bad ts). */
const NOT_JSON = ['not json at all', '{"ts":"2026-11-01T00:00:00.000Z","outcome":"ok","e2e', '<html>'];
const NOT_TOKENTAP = ['{"level":"info","msg":"started"}', '[1,2,3]', '{"ts":"2026-11-01T00:00:00.000Z","outcome":"ok"}', '{"ts":"yesterday","outcome":"ok","e2e_ms":5}'];
const lines = (es: Record<string, unknown>[]) => es.map((e) => JSON.stringify(e));

beforeAll(() => {
  const a = lines(older);
  a.splice(100, 0, NOT_JSON[0], NOT_TOKENTAP[0], '');
  a.splice(900, 0, NOT_TOKENTAP[1], NOT_JSON[1]);
  writeFileSync(rotated, gzipSync(`${a.join('\n')}\n`));
  const b = lines(newer);
  b.splice(10, 0, NOT_TOKENTAP[2], NOT_JSON[2], '', ' \t');
  b.push(NOT_TOKENTAP[3]);
  writeFileSync(current, `${b.join('\r\n')}`); // CRLF, no final newline: a log copied from Windows, still being written
});

describe('tokentap usage', () => {
  it('totals of a .gz and a plain file in reversed order, malformed and foreign lines counted and skipped', () => {
    const r = usage([current, rotated, '--format', 'json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`skipped 7 of 3,007 lines that are not tokentap access-log entries (3 not JSON, 4 without ts/outcome/e2e_ms)`);
    const doc = JSON.parse(r.stdout);
    expect(doc.lines).toEqual({ read: 3007, entries: 3000, outside_window: 0, not_json: 3, not_tokentap: 4 });
    expect(doc.rows).toHaveLength(1);
    expect(checkRows(doc.rows, expectedGroups(entries, []), [])).toEqual([]);
    expect(doc.total).toEqual(doc.rows[0]);
    // The old entries (no user/key_id/cost fields) are there: unpriced includes them, the cost sum excludes them.
    expect(doc.rows[0].unpriced).toBeGreaterThan(250);
  });

  it.each(['user', 'key', 'model', 'endpoint', 'day', 'hour', 'user,model', 'day,endpoint,key'])('--by %s: every group exact', (by) => {
    const keys = by.split(',');
    const doc = json([rotated, current, '--by', by]);
    const expected = expectedGroups(entries, keys);
    expect(expected.length).toBeGreaterThan(1);
    expect(doc.groups).toBe(expected.length);
    expect(checkRows(doc.rows, expected, keys)).toEqual([]);
    // The total merges the groups' sketches: the same figures as no --by.
    expect(checkRows([doc.total], expectedGroups(entries, []), [])).toEqual([]);
  });

  it('null keys: old entries without user/key_id form one group, null in JSON, empty in CSV, - in the table', () => {
    const doc = json([rotated, current, '--by', 'user']);
    const nullRow = doc.rows.find((r) => r.user === null)!;
    expect(nullRow.requests).toBe(entries.filter((e) => !('user' in e)).length);
    expect(nullRow.cost).toBeNull();
    const csv = csvRecords(usage([rotated, current, '--by', 'user', '--format', 'csv']).stdout);
    expect(csv.find((r) => r.user === null)!.requests).toBe(nullRow.requests);
    const table = usage([rotated, current, '--by', 'user', '--sort', 'user:desc']).stdout.split('\n');
    expect(table.find((l) => /^-\s/.test(l))).toMatch(new RegExp(`^-\\s+${nullRow.requests}\\s`));
  });

  it('--format csv parses back (strict RFC 4180) to the JSON rows; --format table is aligned with a total', () => {
    const by = ['model', 'endpoint'];
    const doc = json([rotated, current, '--by', by.join(',')]);
    const csv = csvRecords(usage([rotated, current, '--by', by.join(','), '--format', 'csv']).stdout);
    expect(csv).toEqual(doc.rows);
    const table = usage([rotated, current, '--by', by.join(',')]);
    expect(table.status).toBe(0);
    const t = table.stdout.trimEnd().split('\n');
    expect(t[0]).toMatch(/^model\s+endpoint\s+requests\s+errors\s+prompt\s+cached\s+completion\s+reasoning\s+cost\s+unpriced\s+ttft_p50\s+ttft_p95\s+e2e_p95$/);
    expect(t).toHaveLength(doc.rows.length + 4); // header, rule, rows, rule, total
    expect(new Set(t.map((l) => l.length)).size).toBe(1); // every line as wide: aligned (no cell is empty at the end)
    const total = t.at(-1)!.split(/\s{2,}/);
    expect(total[0]).toBe('total');
    expect(total[1]).toBe((3000).toLocaleString('en-US'));
  });

  it('hostile user values: CSV quotes them, a formula is defused, the table shows control characters escaped', () => {
    const users = ['a,b', 'say "hi"', 'two\nlines', '=HYPERLINK("http://x")', '\u001b[31mred', 'ünï 😀'];
    const file = join(dir, 'hostile.log');
    writeFileSync(file, users.map((user, i) => JSON.stringify({ ...entries[i], user })).join('\n') + '\n');
    const csv = csvRecords(usage([file, '--by', 'user', '--format', 'csv']).stdout).map((r) => r.user);
    expect(csv.sort()).toEqual(users.map((u) => (u.startsWith('=') ? `'${u}` : u)).sort());
    expect(json([file, '--by', 'user']).rows.map((r) => r.user).sort()).toEqual([...users].sort());
    const table = usage([file, '--by', 'user']).stdout;
    expect(table).not.toContain('\u001b');
    expect(table).toContain('\\x1b[31mred');
    expect(table).toContain('two\\x0alines');
  });

  it('--sort and --top: largest first, ties by key, the total still over every group', () => {
    const doc = json([rotated, current, '--by', 'user', '--sort', 'tokens', '--top', '5']);
    expect(doc.rows).toHaveLength(5);
    const tokens = doc.rows.map((r) => (r.prompt_tokens as number) + (r.completion_tokens as number));
    expect(tokens).toEqual([...tokens].sort((a, b) => b - a));
    const all = expectedGroups(entries, ['user']).map((g) => g.prompt_tokens + g.completion_tokens).sort((a, b) => b - a);
    expect(tokens).toEqual(all.slice(0, 5));
    expect(doc.total.requests).toBe(3000);
    const byCost = json([rotated, current, '--by', 'model', '--sort', 'cost:asc']).rows.map((r) => r.cost);
    const priced = byCost.filter((c) => c !== null) as number[];
    expect(priced).toEqual([...priced].sort((a, b) => a - b));
    expect(byCost.at(-1)).toBeNull(); // the unpriced model last, whatever the direction
    expect(json([rotated, current, '--by', 'model', '--sort', 'cost']).rows.at(-1)!.cost).toBeNull();
    const days = json([rotated, current, '--by', 'day']).rows.map((r) => r.day as string);
    expect(days).toEqual([...days].sort()); // no --sort: by the keys, oldest first
    const top = json([rotated, current, '--by', 'user', '--top', '3']).rows.map((r) => r.requests as number);
    expect(top).toEqual(expectedGroups(entries, ['user']).map((g) => g.requests).sort((a, b) => b - a).slice(0, 3));
  });

  it('reads stdin (-), plain or gzip', () => {
    const text = `${lines(entries.slice(0, 500)).join('\n')}\n`;
    for (const input of [text, gzipSync(text)]) {
      const r = usage(['-', '--format', 'json'], input);
      expect(r.status, r.stderr).toBe(0);
      expect(checkRows(JSON.parse(r.stdout).rows, expectedGroups(entries.slice(0, 500), []), [])).toEqual([]);
    }
  });

  it('a file given twice is read once; a truncated .gz counts what it holds and exits 1', () => {
    const r = usage([current, rotated, join(dir, '.', 'access.log'), '--format', 'json']);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('is a file already given: read once');
    expect(JSON.parse(r.stdout).rows[0].requests).toBe(3000);
    const gz = gzipSync(`${lines(entries).join('\n')}\n`);
    const cut = join(dir, 'cut.log.gz');
    writeFileSync(cut, gz.subarray(0, Math.floor(gz.length / 2)));
    const c = usage([cut, '--format', 'json']);
    expect(c.status).toBe(1);
    expect(c.stderr).toMatch(/cut\.log\.gz: .*unexpected end of file.* after [\d,]+ lines; the lines before it are counted/);
    const n = JSON.parse(c.stdout).rows[0].requests;
    expect(n).toBeGreaterThan(500);
    expect(n).toBeLessThan(3000);
  });

  it('a line over 1 MiB, or a file without newlines, is skipped and counted, not buffered whole', () => {
    const big = join(dir, 'big.log');
    const e = JSON.stringify(entries[0]);
    writeFileSync(big, `${e}\n${'x'.repeat(3 << 20)}\n${e}\n${'{"a":"'.padEnd(2 << 20, 'y')}`);
    const doc = json([big]);
    expect(doc.lines).toMatchObject({ read: 4, entries: 2, not_json: 2 });
  });
});

describe('tokentap usage: the time window', () => {
  const edge = join(dir, 'edge.log');
  const at = (ts: string, extra: Record<string, unknown> = {}) => JSON.stringify({ ...entries[5], ts, ...extra });
  const now = Date.now();
  beforeAll(() =>
    writeFileSync(
      edge,
      [
        at('2026-10-31T23:59:59.999Z'),
        at('2026-11-01T00:00:00.000Z'),
        at('2026-11-01T23:59:59.999Z'),
        at('2026-11-02T00:00:00.000Z'),
        at('2026-11-02T00:00:00+01:00'), // = 2026-11-01T23:00Z: not tokentap's form, still a time
        at(new Date(now - 3 * 3600e3).toISOString()),
        at(new Date(now - 3600e3).toISOString()),
      ].join('\n') + '\n',
    ),
  );
  const count = (args: string[]) => json([edge, ...args]).rows[0].requests;

  it('--from is included, --to excluded, dates are midnight UTC, offsets are honoured', () => {
    expect(count(['--from', '2026-11-01', '--to', '2026-11-02'])).toBe(3);
    expect(count(['--from', '2026-11-01T00:00:00.001', '--to', '2026-11-02'])).toBe(2);
    expect(count(['--from', '2026-11-01T23:59:59.999Z', '--to', '2026-11-02T00:00:00.001Z'])).toBe(2);
    expect(count(['--from', '2026-11-01T00:00:00+01:00', '--to', '2026-11-02T01:00+01:00'])).toBe(4);
    expect(count(['--to', '2026-11-01'])).toBe(1);
    expect(count(['--from', '2026-11-02 00:00'])).toBe(3);
    const doc = json([edge, '--from', '2026-11-01', '--to', '2026-11-02']);
    expect(doc.lines).toMatchObject({ entries: 3, outside_window: 4 });
  });

  it('--since counts back from now', () => {
    expect(count(['--since', '2h'])).toBe(1);
    expect(count(['--since', '4h'])).toBe(2);
    expect(count(['--since', '1d'])).toBe(2);
    expect(count(['--since', '90s'])).toBe(0);
    expect(json([edge, '--since', '90s', '--by', 'model']).rows).toEqual([]);
    const r = usage([edge, '--since', '90s']);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('no entries counted (7 lines read; 7 outside the window)');
  });
});

describe('tokentap usage: bad usage exits 2 naming the flag', () => {
  it.each([
    [['--since', '24'], /--since must be a positive duration with a unit .* got "24"/],
    [['--since', '1h', '--from', '2026-11-01'], /--since and --from both set the start/],
    [['--from', '2026-13-01'], /--from must be an ISO 8601 date or date-time .* got "2026-13-01"/],
    [['--from', '2026-02-30'], /--from must be an ISO 8601/],
    [['--to', 'yesterday'], /--to must be an ISO 8601 date/],
    [['--from', '2026-11-02', '--to', '2026-11-01'], /--to 2026-11-01 is not after --from 2026-11-02/],
    [['--by', 'user,team'], /--by: unknown key "team" \(use a comma-separated list of user, key, model, endpoint, day, hour\)/],
    [['--by', 'user,user'], /--by: "user" is given twice/],
    [['--format', 'xml'], /--format must be one of table, csv, json, got "xml"/],
    [['--sort', 'speed'], /--sort must be FIELD or FIELD:asc\|desc .* got "speed"/],
    [['--sort', 'user'], /--sort must be .* got "user"/], // not grouped by user
    [['--top', '0'], /--top must be a positive integer, got "0"/],
    [['--max-groups', 'many'], /--max-groups must be a positive integer/],
    [['--nope'], /Unknown option '--nope'/],
  ])('%j', (args, message) => {
    const r = usage([...args, '/dev/null']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('(see tokentap usage --help)');
    expect(r.stdout).toBe('');
  });

  it('no file, a missing file, a directory', () => {
    expect(usage([]).stderr).toMatch(/give one or more access log files/);
    const missing = usage([join(dir, 'nope.log')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*nope\.log: no such file \(ENOENT\)/);
    expect(usage([dir]).stderr).toMatch(/is a directory/);
  });

  it('more groups than --max-groups: exit 1 saying how to narrow the report', () => {
    const r = usage([rotated, '--by', 'hour', '--max-groups', '10']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('more than 10 groups for --by hour: group by fewer keys, narrow the time window');
  });

  it('--help documents every flag', () => {
    const r = usage(['--help']);
    expect(r.status).toBe(0);
    for (const flag of ['--since', '--from', '--to', '--by', '--format', '--sort', '--top', '--max-groups', '--help']) expect(r.stdout).toContain(flag);
  });
});
