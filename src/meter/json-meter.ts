/** The non-streaming meter: keeps a bounded copy of a JSON response body and reads its `usage`. Pure. */
import { usageFromJsonBody, type Usage } from './usage.js';

/** Bodies larger than this are not parsed for usage (the request then counts as estimated). */
export const JSON_METER_MAX_BYTES = 32 * 1024 * 1024;

export class JsonMeter {
  private parts: Uint8Array[] = [];
  private size = 0;
  private overflow = false;

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

  usage(): Usage | null {
    if (this.overflow || this.size === 0) return null;
    try {
      return usageFromJsonBody(JSON.parse(Buffer.concat(this.parts).toString('utf8')));
    } catch {
      return null;
    }
  }
}
