/** Keeps the `model` label bounded: an optional allowlist, then a cap on distinct values. Pure. */

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

  /** The label value for a request's model (undefined: no model in the request). */
  label(model: string | undefined): string {
    if (model === undefined || model === '') return UNKNOWN_MODEL;
    if (this.allow !== null) return this.allow.has(model) ? model : OTHER_MODEL;
    if (this.seen.has(model)) return model;
    if (model.length > MAX_LABEL_LENGTH || this.seen.size >= this.maxModels) return OTHER_MODEL;
    this.seen.add(model);
    return model;
  }
}
