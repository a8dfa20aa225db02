/** What one SSE event says about generation: token/content, usage, error, end. Pure; no timing here. */
import { sameAt } from './json-scan.js';
import { checkUsage, USAGE_REJECTED, type Usage } from './usage.js';

export interface EventFacts {
  /** Carries generated output (content, reasoning, tool calls, legacy text, Responses `*.delta`). */
  token: boolean;
  /** Carries visible output: content, text, tool calls, non-reasoning Responses deltas. */
  content: boolean;
  /** Usage reported on this event, if any (null when its usage object was rejected). */
  usage: Usage | null;
  /** The event carried a usage object with counts that cannot be true (see checkUsage); it reads as no usage. */
  usageRejected: boolean;
  /** A Chat/Completions usage-only chunk: `choices: []` with a usage object. */
  usageOnly: boolean;
  /** An in-band error (`{"error": …}`, Responses `error` / `response.failed`). */
  error: boolean;
  /** The `[DONE]` sentinel. */
  done: boolean;
}

const NOTHING: EventFacts = Object.freeze({
  token: false,
  content: false,
  usage: null,
  usageRejected: false,
  usageOnly: false,
  error: false,
  done: false,
}) as EventFacts;

type Obj = Record<string, unknown>;

const nonEmptyString = (v: unknown): boolean => typeof v === 'string' && v.length > 0;
const nonEmptyArray = (v: unknown): boolean => Array.isArray(v) && v.length > 0;

/** Inspects one event given its `event:` name (if any) and its `data:` payload. */
export function inspectEvent(eventName: string | undefined, data: string): EventFacts {
  if (eventName === undefined && data.charCodeAt(0) === 123 /* { */) {
    const fast = inspectCompactChunk(Buffer.from(data));
    if (fast !== null) return fast;
  }
  return inspectEventParsed(eventName, data);
}

/** inspectEvent without the compact fast path, for a caller that already tried it on the bytes. */
export function inspectEventParsed(eventName: string | undefined, data: string): EventFacts {
  if (data === '[DONE]') return DONE;
  if (data.length === 0 || data.charCodeAt(0) !== 123 /* { */) return NOTHING;
  return inspectParsed(eventName, data);
}

const DONE: EventFacts = Object.freeze({ ...NOTHING, done: true }) as EventFacts;
const TOKEN_CONTENT: EventFacts = Object.freeze({ ...NOTHING, token: true, content: true }) as EventFacts;
const TOKEN_ONLY: EventFacts = Object.freeze({ ...NOTHING, token: true }) as EventFacts;

const QUOTE = 34;
const BACKSLASH = 92;
const COLON = 58;
const OPEN_BRACE = 123;
const OPEN_BRACKET = 91;

/**
 * The common case without decoding or JSON.parse: one pass over the UTF-8 bytes [start, end) of a compact
 * Chat/Completions chunk that carries no usage object, error or Responses `type`. It walks the JSON's
 * strings (escapes included), so a key is exactly a string followed by `:`, never text inside a value
 * (multi-byte characters are all >= 0x80 and cannot be mistaken for structure). Content/text/tool-call
 * keys with a non-empty value make a token event; reasoning keys a token without content. It returns null
 * (take the full parse) for anything it cannot be sure of: whitespace between tokens, an escaped key,
 * `"usage":{`, `error`, `type`, or no `choices` array.
 */
export function inspectCompactChunk(b: Uint8Array, start = 0, end = b.length): EventFacts | null {
  if (start >= end || b[start] !== OPEN_BRACE) return null;
  let choices = false;
  let token = false;
  let content = false;
  let i = start + 1;
  while (i < end) {
    const c = b[i];
    if (c === QUOTE) {
      const from = i + 1;
      let j = from;
      let escaped = false;
      for (; j < end; j++) {
        const d = b[j];
        if (d === QUOTE) break;
        if (d === BACKSLASH) {
          escaped = true;
          j++;
        }
      }
      if (j >= end) return null;
      i = j + 1;
      if (b[i] !== COLON) continue; // a value, not a key
      if (escaped) return null;
      const v = b[i + 1];
      const nonEmptyString = v === QUOTE && b[i + 2] !== QUOTE;
      switch (j - from) {
        case 4:
          if (sameAt(b, from, 'type')) return null;
          if (nonEmptyString && sameAt(b, from, 'text')) token = content = true;
          break;
        case 5:
          if (sameAt(b, from, 'error') || (v === OPEN_BRACE && sameAt(b, from, 'usage'))) return null;
          break;
        case 7:
          if (v === OPEN_BRACKET && sameAt(b, from, 'choices')) choices = true;
          else if (nonEmptyString && sameAt(b, from, 'content')) token = content = true;
          break;
        case 9:
          if (nonEmptyString && sameAt(b, from, 'reasoning')) token = true;
          break;
        case 17:
          if (nonEmptyString && sameAt(b, from, 'reasoning_content')) token = true;
          break;
        case 10:
          if (v === OPEN_BRACKET && b[i + 2] === OPEN_BRACE && sameAt(b, from, 'tool_calls')) token = content = true;
          break;
      }
      i++;
    } else if (c === 32 || c === 9 || c === 10 || c === 13) {
      return null;
    } else {
      i++;
    }
  }
  if (!choices) return null;
  return token ? (content ? TOKEN_CONTENT : TOKEN_ONLY) : NOTHING;
}

function inspectParsed(eventName: string | undefined, data: string): EventFacts {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return NOTHING;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return NOTHING;
  const o = parsed as Obj;
  const type = typeof o.type === 'string' ? o.type : eventName;
  if (type !== undefined && (type.startsWith('response.') || type === 'error')) return inspectResponsesEvent(type, o);
  return inspectChoicesChunk(o);
}

function inspectChoicesChunk(o: Obj): EventFacts {
  let token = false;
  let content = false;
  const choices = o.choices;
  if (Array.isArray(choices)) {
    for (const c of choices as Obj[]) {
      if (c === null || typeof c !== 'object') continue;
      const delta = c.delta as Obj | undefined;
      if (delta && typeof delta === 'object') {
        if (nonEmptyString(delta.content) || nonEmptyArray(delta.tool_calls)) {
          token = true;
          content = true;
        } else if (nonEmptyString(delta.reasoning_content) || nonEmptyString(delta.reasoning)) {
          token = true;
        }
      } else if (nonEmptyString(c.text)) {
        token = true;
        content = true;
      }
    }
  }
  const read = checkUsage(o.usage);
  const usageRejected = read === USAGE_REJECTED;
  const error = o.error !== undefined && o.error !== null;
  // A rejected usage-only chunk is still the chunk tokentap asked for: strip mode removes it all the same.
  const usageOnly = read !== null && Array.isArray(choices) && choices.length === 0;
  return { token, content, usage: usageRejected ? null : read, usageRejected, usageOnly, error, done: false };
}

function inspectResponsesEvent(type: string, o: Obj): EventFacts {
  if (type.endsWith('.delta')) {
    return { ...NOTHING, token: true, content: !type.includes('reasoning') };
  }
  if (type === 'response.completed' || type === 'response.incomplete' || type === 'response.failed') {
    const response = o.response as Obj | undefined;
    const read = checkUsage(response?.usage);
    const usageRejected = read === USAGE_REJECTED;
    return { ...NOTHING, usage: usageRejected ? null : read, usageRejected, error: type === 'response.failed' };
  }
  if (type === 'error') return { ...NOTHING, error: true };
  return NOTHING;
}
