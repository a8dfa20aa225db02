/**
 * Keeps a label bounded (`model`, and `user` when attribution is on): an optional allowlist, then a cap on
 * distinct values. A value takes one of the `max` slots only once the upstream has answered a request for it
 * with a 2xx (`admit`), so a flood of values the upstream rejects never fills the table and cannot push a
 * real model (or user) into `other`. Until then its requests are labelled `other`. Pure.
 */

export const OTHER_MODEL = 'other';
export const UNKNOWN_MODEL = 'unknown';
/** Longer values are never used as label values. */
const MAX_LABEL_LENGTH = 128;
/** Matches a lone surrogate (with the u flag a surrogate pair is one code point, so only a lone one matches). */
export const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Can `value` be a label value of its own? Not when too long, nor when it holds a lone surrogate (a JSON
 * `"\ud800"` decodes to one): the exposition writes every lone surrogate as U+FFFD, so two such values would be
 * two series with the same label set, and Prometheus rejects the whole scrape for a duplicate series.
 */
const labelable = (value: string): boolean => value.length <= MAX_LABEL_LENGTH && !LONE_SURROGATE.test(value);

export class LabelTable {
  private readonly allow: Set<string> | null;
  private readonly seen = new Set<string>();

  constructor(allowlist: string[], private readonly max: number) {
    this.allow = allowlist.length > 0 ? new Set(allowlist) : null;
  }

  /** The label for a request's value before the upstream answered (undefined: the request has none). */
  label(value: string | undefined): string {
    if (value === undefined || value === '') return UNKNOWN_MODEL;
    if (this.allow !== null) return this.allow.has(value) ? value : OTHER_MODEL;
    return this.seen.has(value) ? value : OTHER_MODEL;
  }

  /** `label` gave `other`, but a 2xx answer could still give the value a slot. */
  mayAdmit(value: string | undefined | null): value is string {
    return (
      value !== undefined &&
      value !== null &&
      value !== '' &&
      this.allow === null &&
      !this.seen.has(value) &&
      this.seen.size < this.max &&
      labelable(value)
    );
  }

  /** The upstream answered a request for `value` with a 2xx: its label from now on (a slot if one is free). */
  admit(value: string): string {
    if (this.allow !== null || this.seen.has(value)) return this.label(value);
    if (this.seen.size >= this.max || !labelable(value)) return OTHER_MODEL;
    this.seen.add(value);
    return value;
  }
}

/** The `model` label's table (`model_allowlist`, `max_models`). */
export { LabelTable as ModelLabeler };
