/**
 * Attribution as configured: which user and which API key id a request belongs to, and the bounded `user`
 * label table. Built once per process; null when neither `user_from` nor `key_id_secret` is set, so a
 * request then pays one null check. Pure.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../config/schema.js';
import { LabelTable } from '../metrics/model-label.js';
import { KeyedHash } from './keyed-hash.js';
import { apiKeyOf, parseUserFrom, resolveUser, type UserSource } from './user-source.js';

/** Prefix of hashed user ids (`hash_user_ids`): tells them from raw ids and from key ids. */
export const HASHED_USER_PREFIX = 'u_';

export class Attribution {
  /** The request body's `user` member is a source: the body scan reads it (only then). */
  readonly bodyUser: boolean;
  /** The `user` label table; null when `user_from` is empty (no user metrics). */
  readonly users: LabelTable | null;
  private readonly sources: UserSource[];
  private readonly keyIds: KeyedHash | null;
  /** hash_user_ids: a header's or the body's value → `u_` + 16 hex digits. */
  private readonly hashUser: ((user: string) => string) | undefined;

  constructor(config: Pick<Config, 'user_from' | 'key_id_secret' | 'hash_user_ids' | 'max_users' | 'user_allowlist'>) {
    this.sources = parseUserFrom(config.user_from);
    this.bodyUser = this.sources.some((s) => s.kind === 'body');
    this.users = this.sources.length > 0 ? new LabelTable(config.user_allowlist, config.max_users) : null;
    const secret = config.key_id_secret;
    this.keyIds = secret === undefined ? null : new KeyedHash(secret);
    // (the schema requires the secret with hash_user_ids)
    if (config.hash_user_ids && secret !== undefined) {
      const userIds = new KeyedHash(secret, HASHED_USER_PREFIX);
      this.hashUser = (user) => userIds.of(user);
    }
  }

  /** The id of the request's API key; null without a key or without key_id_secret. Never the key itself. */
  keyId(headers: IncomingHttpHeaders): string | null {
    if (this.keyIds === null) return null;
    const key = apiKeyOf(headers);
    return key === undefined ? null : this.keyIds.of(key);
  }

  /**
   * The request's user as labels and logs show it (hashed with `hash_user_ids`; a key id is already a
   * pseudonym and stays as it is); null when no source yields one.
   */
  user(headers: IncomingHttpHeaders, bodyUser: string | undefined, keyId: string | null): string | null {
    if (this.users === null) return null;
    return resolveUser(this.sources, headers, bodyUser, keyId, this.hashUser) ?? null;
  }
}

/** The process's attribution, or null when it is off (no `user_from`, no `key_id_secret`). */
export function createAttribution(config: Config): Attribution | null {
  return config.user_from.length === 0 && config.key_id_secret === undefined ? null : new Attribution(config);
}

/** The startup line's account of attribution and prices (no secret), or null when both are off. */
export function attributionSummary(config: Pick<Config, 'user_from' | 'key_id_secret' | 'hash_user_ids' | 'max_users' | 'prices' | 'currency'>): string | null {
  const parts: string[] = [];
  if (config.user_from.length > 0) {
    parts.push(`users from ${config.user_from.join(', ')}${config.hash_user_ids ? ' (hashed)' : ''}, at most ${config.max_users} as labels`);
  }
  if (config.key_id_secret !== undefined) parts.push('key ids in the access log');
  const priced = Object.keys(config.prices).length;
  if (priced > 0) parts.push(`prices for ${priced} model name${priced === 1 ? '' : 's'} or glob${priced === 1 ? '' : 's'} in ${config.currency}`);
  return parts.length === 0 ? null : `attribution: ${parts.join('; ')}`;
}
