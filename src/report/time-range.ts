/** `--since`, `--from`, `--to`: the time window of a usage report, as epoch milliseconds. Pure. */

/** A flag's value is wrong: the message names the flag (the CLI exits 2). */
export class UsageError extends Error {}

/** Entries with `fromMs <= ts < toMs` are counted (either bound may be open). */
export interface TimeRange {
  fromMs: number | null;
  toMs: number | null;
}

const SINCE_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "30m", "24h", "7d", "2w", "90s" (also "1.5h") → milliseconds. */
export function parseSince(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$/i.exec(value);
  if (!m || Number(m[1]) <= 0) {
    throw new UsageError(`--since must be a positive duration with a unit (90s, 30m, 24h, 7d, 2w), got "${value}"`);
  }
  return Number(m[1]) * SINCE_UNITS[m[2].toLowerCase()];
}

/** 2026-11-30 | 2026-11-30T14:05 | …T14:05:09 | …T14:05:09.123, then optionally Z or ±hh:mm (a space may stand for T). */
const ISO = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * An ISO 8601 date or date-time → epoch ms. A date is its midnight UTC; a date-time without an offset is UTC,
 * like the access log's `ts` (never the local time zone of the machine that happens to run the report).
 */
export function parseInstant(flag: string, value: string): number {
  const m = ISO.exec(value.trim());
  const ms = m ? Date.parse(`${m[1]}T${m[2] ?? '00:00'}${m[3] ? m[3].toUpperCase() : 'Z'}`) : NaN;
  // Date.parse accepts 2026-02-30 (as March 2); a round trip of the date part rejects it.
  if (!m || Number.isNaN(ms) || (!m[3] && new Date(ms).toISOString().slice(0, 10) !== m[1])) {
    throw new UsageError(
      `${flag} must be an ISO 8601 date or date-time (2026-11-30, 2026-11-30T14:00, 2026-11-30T14:00:00+01:00; UTC ` +
        `unless an offset is given), got "${value}"`,
    );
  }
  return ms;
}

/** The window from the flags; `nowMs` anchors --since. Throws UsageError naming the flag. */
export function parseTimeRange(flags: { since?: string; from?: string; to?: string }, nowMs: number): TimeRange {
  if (flags.since !== undefined && flags.from !== undefined) {
    throw new UsageError('--since and --from both set the start of the window: give one of them');
  }
  const fromMs =
    flags.since !== undefined ? nowMs - parseSince(flags.since)
    : flags.from !== undefined ? parseInstant('--from', flags.from)
    : null;
  const toMs = flags.to !== undefined ? parseInstant('--to', flags.to) : null;
  if (fromMs !== null && toMs !== null && toMs <= fromMs) {
    const start = flags.since !== undefined ? `--since ${flags.since} (${new Date(fromMs).toISOString()})` : `--from ${flags.from}`;
    throw new UsageError(`--to ${flags.to} is not after ${start}: the window is empty`);
  }
  return { fromMs, toMs };
}

/** Whether an entry at `tsMs` is in the window. */
export const inRange = (r: TimeRange, tsMs: number): boolean =>
  (r.fromMs === null || tsMs >= r.fromMs) && (r.toMs === null || tsMs < r.toMs);
