/** What one SSE event says about generation: token/content, usage, error, end. Pure; no timing here. */
import { readUsage, type Usage } from './usage.js';

export interface EventFacts {
  /** Carries generated output (content, reasoning, tool calls, legacy text, Responses `*.delta`). */
  token: boolean;
  /** Carries visible output: content, text, tool calls, non-reasoning Responses deltas. */
  content: boolean;
  /** Usage reported on this event, if any. */
  usage: Usage | null;
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
  usageOnly: false,
  error: false,
  done: false,
}) as EventFacts;

type Obj = Record<string, unknown>;

const nonEmptyString = (v: unknown): boolean => typeof v === 'string' && v.length > 0;
const nonEmptyArray = (v: unknown): boolean => Array.isArray(v) && v.length > 0;

/** Inspects one event given its `event:` name (if any) and its `data:` payload. */
export function inspectEvent(eventName: string | undefined, data: string): EventFacts {
  if (data === '[DONE]') return DONE;
  if (data.length === 0 || data.charCodeAt(0) !== 123 /* { */) return NOTHING;
  if (eventName === undefined) {
    const fast = inspectCompactChunk(data);
    if (fast !== null) return fast;
  }
  return inspectParsed(eventName, data);
}

const DONE: EventFacts = Object.freeze({ ...NOTHING, done: true }) as EventFacts;
const TOKEN_CONTENT: EventFacts = Object.freeze({ ...NOTHING, token: true, content: true }) as EventFacts;
const TOKEN_ONLY: EventFacts = Object.freeze({ ...NOTHING, token: true }) as EventFacts;

const CONTENT_OR_TEXT = /"(?:content|text)":"[^"]/;
const REASONING = /"(?:reasoning_content|reasoning)":"[^"]/;

/**
 * The common case without JSON.parse: a compact Chat/Completions chunk that carries no usage, error or
 * Responses `type`. In compact JSON a raw `"key":"` can only be a key (quotes inside strings are escaped),
 * so these patterns are exact there. Anything else (spaces after colons, usage, errors) returns null and
 * takes the full parse.
 */
export function inspectCompactChunk(data: string): EventFacts | null {
  if (
    !data.includes('"choices":[') ||
    data.includes('": ') ||
    data.includes('" :') ||
    data.includes('"usage":{') ||
    data.includes('"error"') ||
    data.includes('"type":')
  ) {
    return null;
  }
  if (CONTENT_OR_TEXT.test(data) || data.includes('"tool_calls":[{')) return TOKEN_CONTENT;
  if (REASONING.test(data)) return TOKEN_ONLY;
  return NOTHING;
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
  const usage = readUsage(o.usage);
  const error = o.error !== undefined && o.error !== null;
  const usageOnly = usage !== null && Array.isArray(choices) && choices.length === 0;
  return { token, content, usage, usageOnly, error, done: false };
}

function inspectResponsesEvent(type: string, o: Obj): EventFacts {
  if (type.endsWith('.delta')) {
    return { ...NOTHING, token: true, content: !type.includes('reasoning') };
  }
  if (type === 'response.completed' || type === 'response.incomplete' || type === 'response.failed') {
    const response = o.response as Obj | undefined;
    const usage = readUsage(response?.usage);
    return { ...NOTHING, usage, error: type === 'response.failed' };
  }
  if (type === 'error') return { ...NOTHING, error: true };
  return NOTHING;
}
