// Helpers of the generator's tests (test/create/ is left out of generated projects).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { type RunOptions, root, run } from '../../lib/proc';

export const generator = join(root, 'dist', 'create', 'index.js');
export const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string; files: string[] };

/** Runs the built generator (stdin is not a terminal, so it never asks). */
export const create = (args: string[], opts: RunOptions = {}) => run([process.execPath, generator, ...args], opts);

/** A git identity of the test's own, so the maintainer and the commit author are known. */
export function gitIdentity(dir: string): NodeJS.ProcessEnv {
  const file = join(dir, 'gitconfig');
  writeFileSync(file, '[user]\n\tname = Acme Tester\n\temail = tester@acme.example.org\n');
  return { GIT_CONFIG_GLOBAL: file, GIT_CONFIG_NOSYSTEM: '1' };
}
export const maintainer = 'Acme Tester <tester@acme.example.org>';

/** Every file below dir, relative to it, sorted; .git and node_modules are not the project's. */
export function tree(dir: string, skip = ['.git', 'node_modules']): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (skip.includes(relative(dir, p))) continue;
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * Files of tree(dir) whose name or content mentions text, case-insensitively (grep -ril); with
 * word, only where no letter touches it (grep -rilw, near enough).
 */
export function mentioning(dir: string, text: string, skip?: string[], word = false): string[] {
  const re = new RegExp(word ? `(?<![a-z])${text}(?![a-z])` : text, 'i');
  return tree(dir, skip).filter((f) => re.test(f) || re.test(readFileSync(join(dir, f)).toString('latin1')));
}

export interface Versions {
  /** This package, packed: the version that makes the project. */
  v1: string;
  /** The same with a visible runtime change: a line of native/, a new runtime test, a script. */
  v2: string;
  v2Version: string;
  /** The generator of v2, runnable with `node` (its dependencies are this checkout's). */
  v2Generator: string;
}

/** The runtime file that v2 changes, and the line it puts first. */
export const changedRuntimeFile = 'native/fork_parent.c';
export const v2Marker = (version: string) => `/* Changed in ${version}. */`;

/** Two versions of create-forkd-app built from this checkout, as npm would fetch them. */
export async function twoVersions(dir: string): Promise<Versions> {
  const packed = await run(['npm', 'pack', '--json', '--pack-destination', dir], { cwd: root, timeoutMs: 180_000 });
  if (packed.code !== 0) throw new Error(`npm pack: ${packed.err}`);
  const v1 = join(dir, (JSON.parse(packed.stdout) as { filename: string }[])[0].filename);
  const src = join(dir, 'v2');
  mkdirSync(src);
  execFileSync('tar', ['-xzf', v1, '-C', src]);
  const pkgDir = join(src, 'package');
  const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  const v2Version = manifest.version.replace(/(\d+)$/, (n: string) => String(Number(n) + 1));
  manifest.version = v2Version;
  manifest.scripts['added-in-v2'] = 'echo added in v2';
  writeFileSync(join(pkgDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  // A first line of its own: a project's edit of the old first line is then a conflict.
  const changed = join(pkgDir, changedRuntimeFile);
  writeFileSync(changed, `${v2Marker(v2Version)}\n${readFileSync(changed, 'utf8')}`);
  writeFileSync(
    join(pkgDir, 'test', 'added-in-v2.ts'),
    // As the project's linter (test/lint.ts) wants it, since the project's suite runs it.
    "import t from 'tap';\n\nt.pass('a runtime test that v2 adds');\n",
  );
  const v2Packed = await run(['npm', 'pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
    cwd: pkgDir,
    timeoutMs: 180_000,
  });
  if (v2Packed.code !== 0) throw new Error(`npm pack of v2: ${v2Packed.err}`);
  symlinkSync(join(root, 'node_modules'), join(pkgDir, 'node_modules'));
  return {
    v1,
    v2: join(dir, (JSON.parse(v2Packed.stdout) as { filename: string }[])[0].filename),
    v2Version,
    v2Generator: join(pkgDir, 'dist', 'create', 'index.js'),
  };
}

/** Removes the npx cache entry that `npm exec --package=<tarball>` made for this one tarball. */
export function forgetNpx(tarball: string): void {
  const npx = join(homedir(), '.npm', '_npx');
  for (const entry of existsSync(npx) ? readdirSync(npx) : []) {
    const manifest = join(npx, entry, 'package.json');
    if (existsSync(manifest) && readFileSync(manifest, 'utf8').includes(tarball))
      rmSync(join(npx, entry), { recursive: true, force: true });
  }
}
