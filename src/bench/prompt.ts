/**
 * Synthesises prompts of about N tokens locally (no data set). Pure given the RNG.
 *
 * The words are common lower-case English words that are one token (with their leading
 * space) in the usual BPE vocabularies (cl100k/o200k, Llama 3, Qwen, Mistral), so
 * N words ≈ N prompt tokens. Chat templates add a few tokens of their own; the
 * server-reported `prompt_tokens` is what the bench reports. Words are drawn at random
 * per request, so prompts do not share a long prefix (no accidental prefix-cache hits).
 */
import type { Rng } from './distributions.js';

export const WORDS: readonly string[] = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but ' +
  'have an they you were her she there one all we their been has when who will more no if out so ' +
  'said what up its about into than them can only other new some could time these two may then do ' +
  'first any my now such like our over man me even most made after also did many before must through ' +
  'back years where much your way well down should because each just those people how too little state ' +
  'good very make world still own see men work long get here between both life being under never day ' +
  'same another know while last might us great old year off come since against go came right used take ' +
  'three small house water city river light music story north south east west green blue red black white ' +
  'table window door garden paper letter market school field road night morning summer winter bird tree ' +
  'stone horse train ship river cloud rain snow fire wind sound voice color number system group problem'
).split(' ');

/** A prompt of `tokens` words drawn from WORDS; an empty string for 0. */
export function synthPrompt(tokens: number, rng: Rng): string {
  const n = Math.max(0, Math.floor(tokens));
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) out[i] = WORDS[Math.floor(rng() * WORDS.length)];
  return out.join(' ');
}
