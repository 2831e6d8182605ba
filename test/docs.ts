// The docs ship with every generated project: each link in them, and each document a source
// comment cites ("ARCHITECTURE.md §1"), must resolve in the tree that holds this test.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import t from 'tap';
import { root } from './lib/proc';

const skip = new Set(['node_modules', '.git', 'build', 'dist', 'out', '.tap']);

function files(dir: string, keep: (name: string) => boolean): string[] {
  const found: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (skip.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) found.push(...files(p, keep));
    else if (keep(e.name)) found.push(p);
  }
  return found;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
}

function anchors(markdown: string): Set<string> {
  const text = markdown.replace(/^```[\s\S]*?^```/gm, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1].trim())));
}

t.test('every relative link in the Markdown files resolves, anchors included', async (t) => {
  const docs = files(root, (n) => n.endsWith('.md'));
  t.ok(
    docs.some((d) => d.endsWith('ARCHITECTURE.md')),
    'ARCHITECTURE.md is here',
  );
  const broken: string[] = [];
  let links = 0;
  for (const doc of docs) {
    const text = readFileSync(doc, 'utf8').replace(/^```[\s\S]*?^```/gm, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
      links++;
      const [path, anchor] = target.split('#');
      // template/README.md becomes a generated project's README.md: its links are from the root.
      const base = doc === join(root, 'template', 'README.md') ? root : dirname(doc);
      const file = path ? join(base, path) : doc;
      if (!existsSync(file)) broken.push(`${relative(root, doc)}: ${target} (no such file)`);
      else if (anchor && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(anchor))
        broken.push(`${relative(root, doc)}: ${target} (no such heading)`);
    }
  }
  t.ok(links > 10, `${links} links checked`);
  t.same(broken, [], 'no broken link');
});

t.test('every document that code and docs cite exists', async (t) => {
  const cited = files(root, (n) => /\.(ts|js|c|cc|h|md|json|sh)$/.test(n) && n !== 'package-lock.json');
  const missing: string[] = [];
  for (const file of cited) {
    for (const [, doc] of readFileSync(file, 'utf8').matchAll(/\b([A-Z][A-Z_]+\.md)\b/g))
      if (!existsSync(join(root, doc))) missing.push(`${relative(root, file)} cites ${doc}`);
  }
  t.same(missing, [], 'each cited *.md file is in the tree');
});
