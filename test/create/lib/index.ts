// Helpers of the generator's tests (test/create/ is left out of generated projects).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { root, run, type RunOptions } from '../../lib/proc';

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
