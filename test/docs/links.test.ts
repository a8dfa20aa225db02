/**
 * Every relative link in the documentation resolves: README.md, docs/*.md, bench/README.md and
 * src/sim/README.md. A link to a file or directory must name one that exists inside the repository; a
 * `#anchor` must match a heading of the target Markdown file (or of the same file) by GitHub's slug rules:
 * the heading's text lower-cased, punctuation removed, each space turned into a hyphen, and `-1`, `-2`, …
 * appended to repeated headings. Links with a scheme (https:, mailto:) are not checked.
 * One test per file; a failure names the file, the line, the link and why it does not resolve.
 */
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** The documentation files, relative to the repository root. */
function docFiles(root: string): string[] {
  const docsDir = join(root, 'docs');
  const docs = existsSync(docsDir)
    ? readdirSync(docsDir)
        .filter((name) => name.endsWith('.md'))
        .sort()
        .map((name) => `docs/${name}`)
    : [];
  return ['README.md', ...docs, 'bench/README.md', 'src/sim/README.md'];
}

/**
 * The lines of a Markdown file with fenced code blocks blanked (line numbers kept), so that neither
 * headings nor links are taken from code.
 */
function withoutFencedCode(text: string): string[] {
  const lines = text.split(/\r?\n/);
  let fence: { char: string; length: number } | undefined;
  return lines.map((line) => {
    const m = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
    if (fence === undefined) {
      if (m && !(m[1][0] === '`' && m[2].includes('`'))) {
        fence = { char: m[1][0], length: m[1].length };
        return '';
      }
      return line;
    }
    if (m && m[1][0] === fence.char && m[1].length >= fence.length && m[2].trim() === '') fence = undefined;
    return '';
  });
}

/** Inline code spans replaced by spaces of the same length (a code span is never a link). */
function withoutCodeSpans(line: string): string {
  return line.replace(/(`+)(?!`)([\s\S]*?[^`])\1(?!`)/g, (span) => ' '.repeat(span.length));
}

/** GitHub's heading anchor (github-slugger) for a heading's Markdown source text. */
export function githubSlug(heading: string): string {
  const text = heading
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1') // image → its alt text
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // link → its text
    .replace(/\[([^\]]*)\]\[[^\]]*\]/g, '$1') // reference link → its text
    .replace(/<[^>]+>/g, '') // HTML tags
    .replace(/(`+)([\s\S]*?)\1/g, '$2') // code spans → their content
    .replace(/(^|[^\p{L}\p{N}])(\*{1,3}|_{1,3})(?=\S)([\s\S]*?\S)\2(?=[^\p{L}\p{N}]|$)/gu, '$1$3'); // emphasis
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a Markdown file offers: its headings' slugs (repeats numbered) and explicit HTML ids/names. */
function anchorsOf(text: string): Set<string> {
  const lines = withoutFencedCode(text);
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const add = (heading: string) => {
    const base = githubSlug(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  };
  lines.forEach((line, i) => {
    const atx = /^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (atx) return add(atx[1] ?? '');
    const next = lines[i + 1] ?? '';
    const setext = /^ {0,3}(=+|-+)[ \t]*$/.test(next);
    if (setext && line.trim() !== '' && !/^ {0,3}([-*+>|#]|\d+[.)])/.test(line)) add(line.trim());
  });
  for (const m of text.matchAll(/<[a-z][^>]*?\s(?:id|name)\s*=\s*["']([^"']+)["']/gi)) anchors.add(m[1]);
  return anchors;
}

interface Link {
  line: number;
  target: string;
}

/** Inline links and images, reference definitions and HTML href/src attributes, outside code. */
function linksOf(text: string): Link[] {
  const links: Link[] = [];
  const inline =
    /!?\[(?:[^[\]\\]|\\.|\[[^[\]]*\])*\]\(\s*(<[^>]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g;
  withoutFencedCode(text).forEach((raw, i) => {
    const line = withoutCodeSpans(raw);
    const add = (target: string) => links.push({ line: i + 1, target: target.replace(/^<(.*)>$/, '$1') });
    for (const m of line.matchAll(inline)) add(m[1]);
    const definition = /^ {0,3}\[[^\]]+\]:\s*(\S+)/.exec(line);
    if (definition) add(definition[1]);
    for (const m of line.matchAll(/<(?:a|img)\s[^>]*?(?:href|src)\s*=\s*["']([^"']*)["']/gi)) add(m[1]);
  });
  return links;
}

/** Why `link` (found in `file`, relative to `root`) does not resolve, or undefined when it does. */
function brokenReason(root: string, file: string, link: string, anchorCache: Map<string, Set<string>>): string | undefined {
  if (link === '') return 'empty link';
  if (/^[a-z][a-z0-9+.-]*:/i.test(link) || link.startsWith('//')) return undefined; // external
  const hash = link.indexOf('#');
  const rawPath = (hash === -1 ? link : link.slice(0, hash)).replace(/\?.*$/, '');
  const rawAnchor = hash === -1 ? undefined : link.slice(hash + 1);
  let path: string;
  let anchor: string | undefined;
  try {
    path = decodeURIComponent(rawPath);
    anchor = rawAnchor === undefined ? undefined : decodeURIComponent(rawAnchor);
  } catch {
    return 'not a valid percent-encoded URL';
  }
  const fileAbs = join(root, file);
  const targetAbs =
    path === '' ? fileAbs : path.startsWith('/') ? join(root, path.slice(1)) : resolve(dirname(fileAbs), path);
  const rel = relative(root, targetAbs);
  if (rel === '..' || rel.startsWith(`..${sep}`)) return `points outside the repository (${rel})`;
  if (!existsSync(targetAbs)) return `no such file or directory: ${rel}`;
  if (anchor === undefined) return undefined;
  if (anchor === '') return 'empty #anchor';
  if (statSync(targetAbs).isDirectory()) return `#${anchor} on a directory (${rel})`;
  if (!/\.(md|markdown)$/i.test(targetAbs)) {
    return /^L\d+(-L\d+)?$/.test(anchor) ? undefined : `#${anchor} into a file that is not Markdown (${rel})`;
  }
  let anchors = anchorCache.get(targetAbs);
  if (anchors === undefined) {
    anchors = anchorsOf(readFileSync(targetAbs, 'utf8'));
    anchorCache.set(targetAbs, anchors);
  }
  if (anchors.has(anchor)) return undefined;
  const near = [...anchors].filter((a) => a.includes(anchor) || anchor.includes(a)).slice(0, 3);
  return `no heading in ${rel} has the slug "${anchor}"${near.length ? ` (near: ${near.join(', ')})` : ''}`;
}

/** Every broken link of one file, as "file:line: link → reason". */
function brokenLinks(root: string, file: string): string[] {
  const cache = new Map<string, Set<string>>();
  const text = readFileSync(join(root, file), 'utf8');
  const problems: string[] = [];
  for (const { line, target } of linksOf(text)) {
    const reason = brokenReason(root, file, target, cache);
    if (reason !== undefined) problems.push(`${file}:${line}: ${target} → ${reason}`);
  }
  return problems;
}

describe('relative links in the documentation resolve', () => {
  for (const file of docFiles(REPO)) {
    it(file, () => {
      expect(existsSync(join(REPO, file)), `${file} is missing`).toBe(true);
      const problems = brokenLinks(REPO, file);
      if (problems.length > 0) {
        expect.fail(`${file}: ${problems.length} broken link(s)\n  ${problems.join('\n  ')}`);
      }
    });
  }
});

describe('the link checker', () => {
  it('follows GitHub slug rules and reports missing files and anchors, but not links inside code', () => {
    expect(githubSlug('Services, volumes, configuration')).toBe('services-volumes-configuration');
    expect(githubSlug('The simulator: `tokentap sim`')).toBe('the-simulator-tokentap-sim');
    expect(githubSlug('What was changed, and what each step bought')).toBe('what-was-changed-and-what-each-step-bought');
    expect(githubSlug('A [linked](x.md) **bold** heading')).toBe('a-linked-bold-heading');
    expect(githubSlug('snake_case and 1.2 -> 2')).toBe('snake_case-and-12---2');

    const root = mkdtempSync(join(tmpdir(), 'tokentap-links-'));
    try {
      mkdirSync(join(root, 'docs'));
      writeFileSync(join(root, 'docs', 'a.md'), '# Title\n\n## Same\n\n## Same\n\n```sh\n# not a heading\n```\n');
      writeFileSync(
        join(root, 'README.md'),
        [
          '[ok](docs/a.md) [ok](docs/a.md#title) [ok](docs/a.md#same-1) [ok](#readme) [ok](docs)',
          '[missing file](docs/b.md) [missing anchor](docs/a.md#not-a-heading) [outside](../x.md)',
          '`[code span](nowhere.md)` [external](https://example.com/x.md)',
          '```',
          '[fenced](nowhere.md)',
          '```',
          '# README',
        ].join('\n'),
      );
      expect(brokenLinks(root, 'README.md')).toEqual([
        'README.md:2: docs/b.md → no such file or directory: docs/b.md',
        'README.md:2: docs/a.md#not-a-heading → no heading in docs/a.md has the slug "not-a-heading"',
        'README.md:2: ../x.md → points outside the repository (../x.md)',
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
