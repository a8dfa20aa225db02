/**
 * Deterministic token accounting and output text.
 *
 * Prompt tokens: the number of whitespace-separated words in the request's
 * text, minimum 1. Text = chat `messages[].content` (string, or the `text` of
 * each content part), completions `prompt`, responses `instructions` + `input`
 * (string, or each item's `content` string / parts' `text`), embeddings and
 * /tokenize `input`/`prompt`. A pre-tokenized prompt (array of token ids)
 * counts its length. Roles, names, tools and other fields are not counted.
 *
 * Output tokens: token i of a sequence is one word from a fixed cycle; token 0
 * has no leading space, later tokens have one, so a text of N tokens has
 * exactly N whitespace-separated words.
 */
import type { RequestOverrides } from './options.js';

/** Whitespace-separated words (JS `\s` whitespace). */
export function splitWords(text: string): string[] {
  return text.match(/\S+/gu) ?? [];
}

export function countWords(text: string): number {
  return splitWords(text).length;
}

function isTokenIds(v: unknown): v is number[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number');
}

/** Words in a chat/responses `content` value (string or array of parts). */
export function contentWords(content: unknown): number {
  if (typeof content === 'string') return countWords(content);
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const part of content) {
    if (typeof part === 'string') n += countWords(part);
    else if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') {
      n += countWords((part as { text: string }).text);
    }
  }
  return n;
}

export function chatPromptTokens(messages: unknown[]): number {
  let n = 0;
  for (const m of messages) {
    if (m && typeof m === 'object') n += contentWords((m as { content?: unknown }).content);
  }
  return Math.max(1, n);
}

/** Completions `prompt` / embeddings `input`: string, string[], number[], number[][]. */
export function textOrIdsTokens(input: unknown): number {
  return Math.max(1, rawTextOrIds(input));
}

function rawTextOrIds(input: unknown): number {
  if (typeof input === 'string') return countWords(input);
  if (isTokenIds(input)) return input.length;
  if (Array.isArray(input)) return input.reduce<number>((s, x) => s + rawTextOrIds(x), 0);
  return 0;
}

export function responsesPromptTokens(input: unknown, instructions: unknown): number {
  let n = typeof instructions === 'string' ? countWords(instructions) : 0;
  if (typeof input === 'string') n += countWords(input);
  else if (Array.isArray(input)) {
    for (const item of input) {
      if (typeof item === 'string') n += countWords(item);
      else if (item && typeof item === 'object') n += contentWords((item as { content?: unknown }).content);
    }
  }
  return Math.max(1, n);
}

const CONTENT_WORDS = [
  'lorem', 'ipsum', 'dolor', 'sit', 'amet', 'consectetur', 'adipiscing', 'elit',
  'sed', 'do', 'eiusmod', 'tempor', 'incididunt', 'ut', 'labore', 'magna',
];
const REASONING_WORDS = ['let', 'me', 'think', 'about', 'this', 'step', 'by', 'carefully'];

export type TokenKind = 'content' | 'reasoning';

/** Text of tokens [from, to) of a sequence. */
export function tokenText(kind: TokenKind, from: number, to: number): string {
  const words = kind === 'content' ? CONTENT_WORDS : REASONING_WORDS;
  let s = '';
  for (let i = from; i < to; i++) s += (i === 0 ? '' : ' ') + words[i % words.length];
  return s;
}

export function chunkCount(total: number, perChunk: number): number {
  return Math.ceil(total / perChunk);
}

/** Token range [from, to) of chunk k when `total` tokens go `perChunk` per chunk (last may be smaller). */
export function chunkRange(k: number, total: number, perChunk: number): [number, number] {
  return [k * perChunk, Math.min(total, (k + 1) * perChunk)];
}

/**
 * Tokens of a tool call's first chunk (its id and function name, `arguments: ""`). Every event vLLM streams
 * carries at least one generated token, so usage counts this chunk too: otherwise TPOT = span / (tokens − 1)
 * would divide the gaps of N + 1 events by N − 1 instead of N.
 */
export const TOOL_NAME_TOKENS = 1;

export interface OutputPlan {
  /** Content tokens (or tool-call argument tokens). */
  contentTokens: number;
  reasoningTokens: number;
  /** TOOL_NAME_TOKENS for a tool call, else 0. */
  toolNameTokens: number;
  /** 'length' when the request's max-token limit cut the output, else 'stop'. */
  finishReason: 'stop' | 'length';
  cachedTokens: number;
}

/**
 * Output length rule: the natural length is `x-sim-output-tokens` if present,
 * else (no request limit) the configured `outputTokens`, else unbounded. With a
 * request limit M (max_tokens / max_completion_tokens / max_output_tokens) the
 * content is min(natural, M) and finish_reason is 'length' iff it equals M;
 * without a limit finish_reason is 'stop'. A tool call's name token comes
 * first and takes one of the M (the arguments get at most M − 1). Reasoning
 * tokens come on top and are not capped. completion_tokens = completionTokens().
 */
export function planOutput(
  requestMax: number | undefined,
  ov: RequestOverrides,
  defaultOutputTokens: number,
  promptTokens: number,
  withReasoning: boolean,
  toolCall = false,
): OutputPlan {
  const toolNameTokens = toolCall ? TOOL_NAME_TOKENS : 0;
  const room = requestMax === undefined ? undefined : requestMax - toolNameTokens;
  const natural = ov.outputTokens ?? (room === undefined ? defaultOutputTokens : Infinity);
  const contentTokens = room === undefined ? natural : Math.min(natural, room);
  return {
    contentTokens,
    reasoningTokens: withReasoning ? ov.reasoningTokens : 0,
    toolNameTokens,
    finishReason: room !== undefined && contentTokens === room ? 'length' : 'stop',
    cachedTokens: Math.min(ov.cachedTokens, promptTokens),
  };
}

/** usage.completion_tokens: content (or tool arguments) + reasoning + the tool call's name. */
export function completionTokens(plan: OutputPlan): number {
  return plan.contentTokens + plan.reasoningTokens + plan.toolNameTokens;
}

/** Deterministic token id of a word (used by /tokenize). */
export function wordTokenId(word: string): number {
  return 100 + (fnv1a(word) % 150000);
}

export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Complete tool-call arguments for `tokens` argument tokens: `{"text": "<words>"}`. */
export function toolArguments(tokens: number): string {
  return '{"text": "' + tokenText('content', 0, tokens) + '"}';
}

export type SlotKind = 'reasoning' | 'text' | 'tool-start' | 'tool-args';

export interface Slot {
  kind: SlotKind;
  /** Delta text (reasoning / content / arguments piece; for tool-start the arguments sent with the name). */
  text: string;
  /** Tokens this slot carries. */
  tokens: number;
}

/**
 * The token-bearing chunks ("slots") of one response, computed lazily so huge
 * outputs cost nothing up front: reasoning chunks first, then either content
 * chunks or a tool call (one announcing slot with the function name, carrying
 * its token, then argument pieces forming `{"text": "<words>"}`; with no
 * argument words the name slot carries the whole `{"text": ""}`, so no slot of
 * a tool call is without a token). A response with no tokens at all has one
 * empty content slot.
 */
export class SlotPlan {
  readonly count: number;
  readonly tool: boolean;
  private readonly reasoningChunks: number;
  private readonly contentChunks: number;

  constructor(
    readonly plan: OutputPlan,
    private readonly perChunk: number,
  ) {
    this.tool = plan.toolNameTokens > 0;
    this.reasoningChunks = chunkCount(plan.reasoningTokens, perChunk);
    this.contentChunks = chunkCount(plan.contentTokens, perChunk);
    const after = this.tool ? 1 + this.contentChunks : this.contentChunks;
    this.count = Math.max(1, this.reasoningChunks + after);
  }

  slot(k: number): Slot {
    const { plan, perChunk } = this;
    if (k < this.reasoningChunks) {
      const [a, b] = chunkRange(k, plan.reasoningTokens, perChunk);
      return { kind: 'reasoning', text: tokenText('reasoning', a, b), tokens: b - a };
    }
    const j = k - this.reasoningChunks;
    if (!this.tool) {
      if (this.contentChunks === 0) return { kind: 'text', text: '', tokens: 0 };
      const [a, b] = chunkRange(j, plan.contentTokens, perChunk);
      return { kind: 'text', text: tokenText('content', a, b), tokens: b - a };
    }
    if (j === 0) return { kind: 'tool-start', text: this.contentChunks === 0 ? toolArguments(0) : '', tokens: plan.toolNameTokens };
    const i = j - 1;
    const [a, b] = chunkRange(i, plan.contentTokens, perChunk);
    let text = tokenText('content', a, b);
    if (i === 0) text = '{"text": "' + text;
    if (i === this.contentChunks - 1) text += '"}';
    return { kind: 'tool-args', text, tokens: b - a };
  }
}

export interface UsageInfo {
  prompt_tokens: number;
  total_tokens: number;
  completion_tokens: number;
  prompt_tokens_details?: { cached_tokens: number } | null;
  completion_tokens_details?: { reasoning_tokens: number };
}

/**
 * vLLM UsageInfo. prompt_tokens_details appears when cached tokens are
 * simulated (as `null` otherwise when `withNulls`, like vLLM's non-streaming
 * bodies); completion_tokens_details when reasoning is on for the request.
 */
export function usageInfo(
  promptTokens: number,
  completionTokens: number,
  plan: Pick<OutputPlan, 'cachedTokens' | 'reasoningTokens'>,
  withNulls: boolean,
): UsageInfo {
  const u: UsageInfo = {
    prompt_tokens: promptTokens,
    total_tokens: promptTokens + completionTokens,
    completion_tokens: completionTokens,
  };
  if (plan.cachedTokens > 0) u.prompt_tokens_details = { cached_tokens: plan.cachedTokens };
  else if (withNulls) u.prompt_tokens_details = null;
  if (plan.reasoningTokens > 0) u.completion_tokens_details = { reasoning_tokens: plan.reasoningTokens };
  return u;
}
