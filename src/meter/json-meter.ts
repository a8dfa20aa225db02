/** The non-streaming meter: keeps a bounded copy of a JSON response body and reads its `usage`. Pure. */
import { parseRange, topLevelValues } from './json-scan.js';
import { checkUsage, USAGE_REJECTED, type Usage } from './usage.js';

/** Bodies larger than this are not parsed for usage (the request then counts as estimated). */
export const JSON_METER_MAX_BYTES = 32 * 1024 * 1024;

const USAGE = ['usage'] as const;

/** Reads only the top-level `usage` member (a byte scan), not the whole body. */
export class JsonMeter {
  private parts: Uint8Array[] = [];
  private size = 0;
  private overflow = false;
  private rejected = false;

  push(chunk: Uint8Array): void {
    if (this.overflow) return;
    this.size += chunk.length;
    if (this.size > JSON_METER_MAX_BYTES) {
      this.overflow = true;
      this.parts = [];
      return;
    }
    this.parts.push(chunk);
  }

  /** The body's usage; null when there is none or it was rejected (see usageRejected). */
  usage(): Usage | null {
    this.rejected = false;
    if (this.overflow || this.size === 0) return null;
    const body = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.size);
    const ranges = topLevelValues(body, USAGE);
    const read = ranges === null ? null : checkUsage(parseRange(body, ranges.usage));
    if (read !== USAGE_REJECTED) return read;
    this.rejected = true;
    return null;
  }

  /** The last usage() call found a usage object whose counts cannot be true (checkUsage) and returned null. */
  get usageRejected(): boolean {
    return this.rejected;
  }
}
