// What a new project and an update both need: this package's identity, the project's files as
// this version makes them, and the small steps that write them.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** sysexits.h, as documented in --help and the README. */
export const EX = { OK: 0, USAGE: 64, UNAVAILABLE: 69, SOFTWARE: 70, CANTCREAT: 73, CANCELLED: 130 } as const;

/** The package's root: dist/create/../.. in a checkout and in the installed package alike. */
export const root = resolve(__dirname, '..', '..');
export const self = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  files: string[];
  forkd: { listen: string };
};

/** What belongs to the generator: shipped in this package, never in the projects it writes. */
export const generatorOnly = ['dist/create', 'template', 'src/create', 'test/create'];

export class Failure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** One file of the project: its path relative to the project's root, bytes and mode. */
export interface ProjectFile {
  path: string;
  content: Buffer;
  mode: number;
}

/** Every file of the new project: this package's files minus the generator, plus template/'s. */
export function projectFiles(rendered: Record<string, string>): ProjectFile[] {
  const files = new Map<string, ProjectFile>();
  const walk = (path: string): void => {
    if (generatorOnly.includes(path)) return;
    const st = statSync(join(root, path));
    if (st.isDirectory()) readdirSync(join(root, path)).forEach((e) => walk(`${path}/${e}`));
    else files.set(path, { path, content: readFileSync(join(root, path)), mode: st.mode & 0o777 });
  };
  self.files.forEach(walk);
  for (const [path, text] of Object.entries(rendered)) files.set(path, { path, content: Buffer.from(text), mode: 0o644 });
  return [...files.values()].sort((a, b) => a.path.localeCompare(b.path));
}

export const userFields = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies', 'scripts'] as const;

/**
 * The project's package.json over the one in dir: the project's fields win, and every dependency
 * or script the user added is kept. Returns the text and the names of what was kept.
 */
export function mergePackageJson(ours: string, theirs: string | undefined): { text: string; kept: string[] } {
  let old: Record<string, unknown>;
  try {
    old = theirs === undefined ? {} : (JSON.parse(theirs) as Record<string, unknown>);
  } catch {
    return { text: ours, kept: [] }; // not JSON: replaced whole, and listed as such
  }
  const merged = JSON.parse(ours) as Record<string, Record<string, unknown>>;
  const kept: string[] = [];
  for (const field of userFields) {
    const theirsField = old[field];
    if (!theirsField || typeof theirsField !== 'object') continue;
    for (const [key, value] of Object.entries(theirsField as Record<string, unknown>)) {
      if (merged[field]?.[key] !== undefined) continue;
      merged[field] = { ...(merged[field] ?? {}), [key]: value };
      kept.push(field === 'scripts' ? `script ${key}` : key);
    }
  }
  return { text: kept.length ? `${JSON.stringify(merged, null, 2)}\n` : ours, kept };
}

/**
 * Writes files into dir and returns how to undo it: created files and directories are removed,
 * replaced files get their bytes and mode back. Nothing else in dir is touched.
 */
export function writeProject(dir: string, files: ProjectFile[]): () => void {
  const undo: (() => void)[] = [];
  const ensureDir = (d: string): void => {
    if (existsSync(d)) return;
    ensureDir(dirname(d));
    mkdirSync(d);
    undo.push(() => rmSync(d, { recursive: true, force: true }));
  };
  const undoAll = () => undo.reverse().forEach((u) => u());
  try {
    for (const f of files) {
      const abs = join(dir, f.path);
      ensureDir(dirname(abs));
      if (existsSync(abs)) {
        const st = statSync(abs);
        if (st.isFile() && readFileSync(abs).equals(f.content)) continue;
        if (st.isFile()) {
          const before = { content: readFileSync(abs), mode: st.mode & 0o7777 };
          undo.push(() => writeFileSync(abs, before.content, { mode: before.mode }));
        } else throw new Error(`${f.path} is a directory in the way of a file`);
      } else undo.push(() => rmSync(abs, { force: true }));
      writeFileSync(abs, f.content);
      chmodSync(abs, f.mode);
    }
  } catch (e) {
    undoAll();
    throw e;
  }
  return undoAll;
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** template/package.json over this package's: null removes a key, {{x}} fills in vars.x. */
export function overlay(base: Json, over: Json, vars: Record<string, string>): Json {
  if (typeof over === 'string') return fill(over, vars);
  if (over === null || typeof over !== 'object' || Array.isArray(over)) return over;
  const out: { [key: string]: Json } = base && typeof base === 'object' && !Array.isArray(base) ? { ...base } : {};
  for (const [key, value] of Object.entries(over)) {
    if (value === null) delete out[key];
    else out[key] = overlay(out[key] ?? null, value, vars);
  }
  return out;
}

/** {{x}} becomes vars.x; a placeholder with no value is a bug in template/, never "undefined". */
export function fill(text: string, vars: Record<string, string>): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
    if (!Object.hasOwn(vars, k)) throw new Error(`template placeholder {{${k}}} has no value`);
    return vars[k];
  });
}

/** The variable in /etc/default/NAME that holds extra options, named by the packaging scripts. */
export const { optsVar } = require('../../scripts/packaging/describe') as { optsVar: (name: string) => string };

/** The files that template/ makes for the new project, by their path there. */
export function render(vars: Record<string, string>): Record<string, string> {
  const template = (file: string) => readFileSync(join(root, 'template', file), 'utf8');
  const base = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Json;
  return {
    'package.json': JSON.stringify(overlay(base, JSON.parse(template('package.json')) as Json, vars), null, 2) + '\n',
    'README.md': fill(template('README.md'), vars),
    '.gitignore': template('_gitignore'),
  };
}

/** The package manager that runs us (npm_config_user_agent: "pnpm/9.1.0 npm/? node/v22 …"). */
export function packageManager(): string {
  const agent = process.env.npm_config_user_agent?.split('/')[0];
  return agent && ['npm', 'pnpm', 'yarn', 'bun'].includes(agent) ? agent : 'npm';
}

/** The step running now, so that a signal can be passed on to it. */
export let child: ChildProcess | undefined;

/** Runs a step with inherited stdio (quiet: none); resolves to its exit code, or 128 + signal. */
export function step(cmd: string, args: string[], cwd: string, quiet = false): Promise<number> {
  return new Promise((done) => {
    child = spawn(cmd, args, { cwd, stdio: ['ignore', quiet ? 'ignore' : 'inherit', quiet ? 'ignore' : 'inherit'] });
    child.on('error', () => done(127));
    child.on('exit', (code, signal) => done(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  }).finally(() => (child = undefined)) as Promise<number>;
}
