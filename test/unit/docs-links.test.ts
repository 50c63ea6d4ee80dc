/**
 * The README and docs/ as a reader follows them: every relative link points to a file that exists
 * and, with an anchor, to a heading that exists there (GitHub's slugs); every page under docs/ can
 * be reached from the README; and the README's quick start is the two commands it promises.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/paths';

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return markdownFiles(path);
    return name.endsWith('.md') ? [path] : [];
  });
}

const README = join(PROJECT_ROOT, 'README.md');
const DOCS = markdownFiles(join(PROJECT_ROOT, 'docs'));
const PAGES = [README, ...DOCS];
const show = (path: string) => relative(PROJECT_ROOT, path);

/** The text a reader sees as prose: fenced blocks and inline code hold no links. */
const prose = (text: string) =>
  text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');

/** GitHub's heading anchors: lower case, punctuation and symbols dropped, spaces to hyphens; repeats numbered. */
function anchorsOf(path: string): Set<string> {
  const text = readFileSync(path, 'utf8').replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, heading] of text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const visible = (heading as string).replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const slug = visible
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

interface Link {
  from: string;
  target: string;
  /** The file it points to (the page itself for `#anchor`), and the anchor if any. */
  file: string;
  anchor: string | undefined;
}

function relativeLinks(path: string): Link[] {
  const links: Link[] = [];
  for (const [, target] of prose(readFileSync(path, 'utf8')).matchAll(
    /\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g,
  )) {
    const t = target as string;
    if (/^[a-z][a-z0-9+.-]*:/i.test(t)) continue; // https:, mailto:…
    const [file = '', anchor] = t.split('#');
    links.push({
      from: path,
      target: t,
      file: file === '' ? path : resolve(dirname(path), decodeURIComponent(file)),
      anchor: anchor === undefined ? undefined : decodeURIComponent(anchor),
    });
  }
  return links;
}

describe('the README and docs/', () => {
  it('link only to files and headings that exist', () => {
    const links = PAGES.flatMap(relativeLinks);
    expect(links.length).toBeGreaterThan(50);
    const broken = links
      .filter((l) => {
        if (!existsSync(l.file)) return true;
        if (l.anchor === undefined || !l.file.endsWith('.md')) return false;
        return !anchorsOf(l.file).has(l.anchor);
      })
      .map((l) => `${show(l.from)}: (${l.target})`);
    expect(broken).toEqual([]);
  });

  it('can all be reached from the README', () => {
    const reached = new Set<string>([README]);
    const queue = [README];
    for (let page = queue.shift(); page; page = queue.shift())
      for (const { file } of relativeLinks(page))
        if (file.endsWith('.md') && existsSync(file) && !reached.has(file)) {
          reached.add(file);
          queue.push(file);
        }
    expect(DOCS.filter((d) => !reached.has(d)).map(show)).toEqual([]);
  });

  it("keep the README's quick start to the two commands package.json runs", () => {
    const readme = readFileSync(README, 'utf8');
    const quickStart = /## Quick start\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
    const commands = [...quickStart.matchAll(/^(npm [^#\n]*?)\s*(?:#.*)?$/gm)].map((m) => m[1]);
    expect(commands).toEqual(['npm install && npm start', 'npm install && npm test']);
    const { scripts } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8'));
    expect(scripts.start).toBeTruthy();
    expect(scripts.test).toBeTruthy();
  });
});
