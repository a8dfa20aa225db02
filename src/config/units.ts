/** Parsers for the human-friendly units accepted in config: durations and byte sizes. Pure. */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** A duration: a number of seconds, or a string such as "250ms", "30s", "5m", "1h". Returns milliseconds. */
export function parseDurationMs(value: number | string): number {
  if (typeof value === 'number') return value * 1000;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(value);
  if (!m) throw new Error(`"${value}" is not a duration (use seconds, or e.g. "500ms", "30s", "5m")`);
  return Number(m[1]) * DURATION_UNITS[(m[2] ?? 's').toLowerCase()];
}

/** A size: a number of bytes, or a string such as "64MiB", "512KiB", "10MB". Returns bytes. */
export function parseBytes(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*$/i.exec(value);
  if (!m) throw new Error(`"${value}" is not a size (use bytes, or e.g. "64MiB", "512KiB")`);
  return Math.floor(Number(m[1]) * SIZE_UNITS[(m[2] ?? 'b').toLowerCase()]);
}
