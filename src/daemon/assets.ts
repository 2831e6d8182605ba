// Files a server reads at run time (templates, static files, SQL): declared once, in package.json's
// `forkd.assets`, and read through asset(), the same in the dev build and the single executable.
import * as fs from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { singleExecutable } from './executable';

/** The project's root: dist/daemon/ (or src/daemon/ under the tests' TypeScript loader) is two below. */
const projectRoot = resolve(__dirname, '..', '..');

/** The prefix of a declared file's key among the executable's assets (forkd's addon is "forkd.node"). */
export const assetPrefix = 'asset:';
/** The key of the asset listing the declared files' names, one per line. */
export const assetListKey = 'forkd-assets';

/**
 * The files `forkd.assets` declares in root's package.json, as sorted paths relative to root with
 * "/" separators. Each entry is a file, a directory (every file below it) or a glob
 * (`public/**\/*.html`); one that matches nothing, or reaches outside root, is an error that names
 * it. scripts/build-executable.js embeds exactly these.
 */
export function declaredAssets(root: string = projectRoot): string[] {
  const pkg = JSON.parse(fs.readFileSync(join(root, 'package.json'), 'utf8')) as { forkd?: { assets?: unknown } };
  const entries = pkg.forkd?.assets ?? [];
  if (!Array.isArray(entries) || entries.some((e) => typeof e !== 'string'))
    throw new Error('forkd.assets in package.json must be a list of paths or globs');
  const files = new Set<string>();
  const add = (rel: string) => {
    const st = fs.statSync(join(root, rel));
    if (st.isDirectory()) for (const child of fs.readdirSync(join(root, rel))) add(posix.join(rel, child));
    else if (st.isFile()) files.add(rel);
  };
  for (const entry of entries as string[]) {
    const norm = posix.normalize(entry);
    if (posix.isAbsolute(norm) || norm === '..' || norm.startsWith('../'))
      throw new Error(`forkd.assets entry "${entry}" is outside the project; name a path inside it`);
    const before = files.size;
    const matches = /[*?[{]/.test(norm) ? glob(norm, root) : fs.existsSync(join(root, norm)) ? [norm] : [];
    for (const m of matches) add(m.split('\\').join('/'));
    if (files.size === before) throw new Error(`forkd.assets entry "${entry}" matches no file in ${root}`);
  }
  return [...files].sort();
}

/** fs.globSync (Node 22 and later: the pinned Node has it, @types/node 20 does not know it). */
function glob(pattern: string, cwd: string): string[] {
  const globSync = (fs as unknown as { globSync?: (p: string, o: { cwd: string }) => string[] }).globSync;
  if (!globSync) throw new Error(`forkd.assets entry "${pattern}" is a glob, which needs Node 22 or later`);
  return globSync(pattern, { cwd });
}

let names: Set<string> | undefined;

/** The names of the declared assets, as asset() takes them ("public/index.html"). */
export function assetNames(): string[] {
  if (!names) {
    const sea = singleExecutable();
    names = new Set(
      sea ? Buffer.from(sea.getRawAsset(assetListKey)).toString('utf8').split('\n').filter(Boolean) : declaredAssets(),
    );
  }
  return [...names];
}

/**
 * A file declared in `forkd.assets`, by its path relative to the project ("public/index.html"):
 * its bytes, or its text when an encoding is given. In the dev build it is read from the project
 * on each call (edits show without a rebuild); in the single executable it is the copy embedded at
 * build time. A name not declared is an error in both, so that what works in the one works in the
 * other.
 */
export function asset(name: string): Buffer;
export function asset(name: string, encoding: BufferEncoding): string;
export function asset(name: string, encoding?: BufferEncoding): Buffer | string {
  const key = posix.normalize(name.split('\\').join('/')).replace(/^\.\//, '');
  if (!(names ?? new Set(assetNames())).has(key))
    throw new Error(`asset ${name} is not declared in package.json's forkd.assets; add it there and rebuild`);
  const sea = singleExecutable();
  const bytes = sea ? Buffer.from(sea.getRawAsset(assetPrefix + key)) : fs.readFileSync(join(projectRoot, key));
  return encoding ? bytes.toString(encoding) : bytes;
}
