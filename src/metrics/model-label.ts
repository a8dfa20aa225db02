/**
 * Keeps the `model` label bounded: an optional allowlist, then a cap on distinct values. A name takes one of
 * the `max_models` slots only once the upstream has answered a request for it with a 2xx (`admit`), so a
 * flood of names the upstream rejects never fills the table and cannot push a real model into `other`.
 * Until then its requests are labelled `other`. Pure.
 */

export const OTHER_MODEL = 'other';
export const UNKNOWN_MODEL = 'unknown';
/** Longer names are never used as label values. */
const MAX_LABEL_LENGTH = 128;

export class ModelLabeler {
  private readonly allow: Set<string> | null;
  private readonly seen = new Set<string>();

  constructor(allowlist: string[], private readonly maxModels: number) {
    this.allow = allowlist.length > 0 ? new Set(allowlist) : null;
  }

  /** The label for a request's model before the upstream answered (undefined: no model in the request). */
  label(model: string | undefined): string {
    if (model === undefined || model === '') return UNKNOWN_MODEL;
    if (this.allow !== null) return this.allow.has(model) ? model : OTHER_MODEL;
    return this.seen.has(model) ? model : OTHER_MODEL;
  }

  /** `label` gave `other`, but a 2xx answer could still give the name a slot. */
  mayAdmit(model: string | undefined): model is string {
    return (
      model !== undefined &&
      model !== '' &&
      this.allow === null &&
      !this.seen.has(model) &&
      model.length <= MAX_LABEL_LENGTH &&
      this.seen.size < this.maxModels
    );
  }

  /** The upstream answered a request for `model` with a 2xx: its label from now on (a slot if one is free). */
  admit(model: string): string {
    if (this.allow !== null || this.seen.has(model)) return this.label(model);
    if (model.length > MAX_LABEL_LENGTH || this.seen.size >= this.maxModels) return OTHER_MODEL;
    this.seen.add(model);
    return model;
  }
}
