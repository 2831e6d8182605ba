// What a new project and an update both need: this package's identity, the project's files as
// this version makes them, and the small steps that write them.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { constants as osConstants } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const validateNpmName = require('validate-npm-package-name') as (name: string) => {
  errors?: string[];
  warnings?: string[];
};

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

/**
 * Every reason `name` cannot be the daemon's name. It is the npm package, the Debian package, the
 * executable, the service and (as _name) the system user, so it must satisfy npm's rules and the
 * intersection of Debian's package-name and adduser's system-user rules.
 */
export function nameProblems(name: string): string[] {
  const npm = validateNpmName(name);
  const problems = [...(npm.errors ?? []), ...(npm.warnings ?? [])].map(
    (p) => `${p.replace(/^name /, '').replace(`${name} `, '')} (npm)`,
  );
  if (name.length < 2) problems.push('is shorter than 2 characters, the least for a Debian package name');
  if (name.length > 31)
    problems.push(
      `has ${name.length} characters, so the user _${name} would pass useradd's limit of 32 (use at most 31)`,
    );
  if (/[.+]/.test(name))
    problems.push("cannot contain '.' or '+' (Debian package names can, adduser's user names cannot)");
  else if (!/^[a-z0-9][a-z0-9-]*$/.test(name))
    problems.push('may hold only lowercase letters, digits and inner hyphens (Debian package and user names)');
  return problems;
}

/** Every reason `text` cannot be the one-line summary (lintian's rules for a synopsis). */
export function descriptionProblems(text: string, name: string): string[] {
  const problems: string[] = [];
  if (!text.trim()) problems.push('is empty');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  if (/[\x00-\x1f\x7f]/.test(text)) problems.push('must be one line of printable text');
  if (text.length > 80) problems.push(`has ${text.length} characters; Debian wants at most 80`);
  if (/^(a|an|the)\s/i.test(text))
    problems.push("must not start with 'A', 'An' or 'The' (Debian reads it after the name)");
  if (text.toLowerCase().startsWith(name.toLowerCase()))
    problems.push(`must not start with the name ${name} (Debian shows the two together)`);
  if (text.endsWith('.')) problems.push('must not end with a full stop (it is a title, not a sentence)');
  return problems;
}

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

/** The shapes of server a project can start from: the sample in src/server/, or template/worker/. */
export const templates = {
  http: 'an HTTP service (the sample in src/server/)',
  worker: 'a worker with no socket: a round of work every interval',
} as const;
export type Template = keyof typeof templates;

/** The sample's paths, which a template other than http replaces with its own. */
const samplePaths = ['src/server', 'test/server'];

/**
 * Every file of the new project: this package's files minus the generator, plus template/'s; for
 * a template other than http, template/<name>/ in place of the sample's paths.
 */
export function projectFiles(rendered: Record<string, string>, template: Template = 'http'): ProjectFile[] {
  const files = new Map<string, ProjectFile>();
  const walk = (path: string, from = path): void => {
    if (generatorOnly.includes(path)) return;
    if (template !== 'http' && from === path && samplePaths.includes(path)) return;
    const st = statSync(join(root, from));
    if (st.isDirectory()) for (const e of readdirSync(join(root, from))) walk(`${path}/${e}`, `${from}/${e}`);
    else files.set(path, { path, content: readFileSync(join(root, from)), mode: st.mode & 0o777 });
  };
  for (const p of self.files) walk(p);
  if (template !== 'http')
    for (const p of samplePaths)
      if (existsSync(join(root, 'template', template, p))) walk(p, `template/${template}/${p}`);
  for (const [path, text] of Object.entries(rendered))
    files.set(path, { path, content: Buffer.from(text), mode: 0o644 });
  return [...files.values()].sort((a, b) => a.path.localeCompare(b.path));
}

/** What is at a project path in a directory: nothing, a regular file, or something in the way. */
export type Existing =
  | { kind: 'absent' }
  | { kind: 'file'; content: Buffer; mode: number }
  | { kind: 'blocked'; why: string };

/**
 * Looks at dir/rel without following a symbolic link anywhere below dir: a link at the path or
 * at one of its parent directories, a directory or a special file where a file goes, or a file
 * that cannot be read is "blocked". Nothing is ever read or written through a link.
 */
export function existing(dir: string, rel: string): Existing {
  const parts = rel.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const sub = parts.slice(0, i).join('/');
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(join(dir, sub), { throwIfNoEntry: false });
    } catch (e) {
      return { kind: 'blocked', why: `${sub} cannot be looked at (${(e as NodeJS.ErrnoException).code})` };
    }
    if (!st) return { kind: 'absent' };
    if (st.isSymbolicLink()) return { kind: 'blocked', why: `${sub} is a symbolic link` };
    if (i < parts.length && !st.isDirectory()) return { kind: 'blocked', why: `${sub} is not a directory` };
    if (i === parts.length && !st.isFile())
      return { kind: 'blocked', why: `${sub} is ${st.isDirectory() ? 'a directory' : 'not a regular file'}` };
    if (i === parts.length) {
      try {
        return { kind: 'file', content: readFileSync(join(dir, sub)), mode: st.mode & 0o7777 };
      } catch (e) {
        return { kind: 'blocked', why: `${sub} cannot be read (${(e as NodeJS.ErrnoException).code})` };
      }
    }
  }
  return { kind: 'absent' };
}

export const userFields = [
  'dependencies',
  'devDependencies',
  'optionalDependencies',
  'peerDependencies',
  'scripts',
] as const;
const sortedFields = new Set<string>(['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']);

type JsonObject = Record<string, unknown>;
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** package.json text for comparing: dependency lists in npm's (sorted) order, the rest as it is. */
function canonical(pkg: JsonObject): string {
  return JSON.stringify(pkg, (key, value) =>
    sortedFields.has(key) && isObject(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)))
      : value,
  );
}

export interface MergedPackage {
  text: string;
  /** The user's dependencies and scripts that the merge keeps. */
  kept: string[];
  /** Top-level fields of the user's package.json that the merge changes or drops. */
  lost: string[];
}

/**
 * The project's package.json over the one in dir: the project's fields win, and every dependency
 * or script the user added is kept (dependency lists sorted, as npm writes them). When that is
 * all that differs, the user's own text is kept, byte for byte.
 */
export function mergePackageJson(ours: string, theirs: string | undefined): MergedPackage {
  if (theirs === undefined) return { text: ours, kept: [], lost: [] };
  let old: unknown;
  try {
    old = JSON.parse(theirs);
  } catch {
    old = undefined;
  }
  if (!isObject(old)) return { text: ours, kept: [], lost: ['all of it (not a JSON object)'] };
  const merged = JSON.parse(ours) as JsonObject;
  const kept: string[] = [];
  for (const field of userFields) {
    const theirsField = old[field];
    if (!isObject(theirsField)) continue;
    const into = (isObject(merged[field]) ? merged[field] : {}) as JsonObject;
    for (const [key, value] of Object.entries(theirsField)) {
      if (into[key] !== undefined) continue;
      into[key] = value;
      kept.push(field === 'scripts' ? `script ${key}` : key);
    }
    merged[field] = sortedFields.has(field)
      ? Object.fromEntries(Object.entries(into).sort(([a], [b]) => a.localeCompare(b)))
      : into;
  }
  if (canonical(merged) === canonical(old)) return { text: theirs, kept, lost: [] };
  const lost = Object.keys(old).filter((k) => canonical({ v: old[k] }) !== canonical({ v: merged[k] }));
  return { text: kept.length ? `${JSON.stringify(merged, null, 2)}\n` : ours, kept, lost };
}

/**
 * Writes files into dir and returns how to undo it: created files and directories are removed,
 * replaced files get their bytes and mode back. Nothing else in dir is touched, and nothing is
 * written through a symbolic link (each path is checked, and files are opened O_NOFOLLOW).
 */
export function writeProject(dir: string, files: ProjectFile[]): () => void {
  const undo: (() => void)[] = [];
  const ensureDir = (d: string): void => {
    if (existsSync(d)) return;
    ensureDir(dirname(d));
    mkdirSync(d);
    undo.push(() => rmSync(d, { recursive: true, force: true }));
  };
  const undoAll = () => {
    for (const u of undo.reverse()) u();
  };
  try {
    for (const f of files) {
      const abs = join(dir, f.path);
      const was = existing(dir, f.path);
      if (was.kind === 'blocked')
        throw new Error(`${was.why}: the generator writes nothing through a link or over a directory`);
      if (was.kind === 'file' && was.content.equals(f.content) && was.mode === f.mode) continue;
      ensureDir(dirname(abs));
      if (was.kind === 'file')
        undo.push(() => {
          writeFileSync(abs, was.content);
          chmodSync(abs, was.mode);
        });
      else undo.push(() => rmSync(abs, { force: true }));
      const fd = openSync(
        abs,
        constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
        f.mode,
      );
      try {
        for (let off = 0; off < f.content.length; ) off += writeSync(fd, f.content, off);
        fchmodSync(fd, f.mode);
      } finally {
        closeSync(fd);
      }
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

/**
 * {{x}} becomes vars.x; a placeholder with no value is a bug in template/, never "undefined".
 * {{#x}}…{{/x}} keeps what it encloses when vars.x is not empty, {{^x}}…{{/x}} when it is.
 */
export function fill(text: string, vars: Record<string, string>): string {
  const blocks = text.replace(
    /\{\{([#^])(\w+)\}\}([\s\S]*?)\{\{\/\2\}\}/g,
    (_, kind: string, k: string, body: string) => {
      if (!Object.hasOwn(vars, k)) throw new Error(`template block {{${kind}${k}}} has no value`);
      return (kind === '#') === (vars[k] !== '') ? body : '';
    },
  );
  return blocks.replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
    if (!Object.hasOwn(vars, k)) throw new Error(`template placeholder {{${k}}} has no value`);
    return vars[k];
  });
}

/** Every file of the project this version makes for p, as render() and projectFiles() make them. */
export function renderProject(p: Parameters<typeof projectVars>[0], shape: Template = 'http'): ProjectFile[] {
  return projectFiles(render(projectVars(p), shape));
}

/** The variable in /etc/default/NAME that holds extra options, named by the packaging scripts. */
export const { optsVar } = require('../../scripts/packaging/describe') as { optsVar: (name: string) => string };

/**
 * What template/ is filled with for a project made by this version of the generator: its name,
 * description and maintainer, the packaging's options variable, the listen address (the
 * project's, else the reference's), what it does when run (the README's first lines) and this
 * version as the generator.
 */
export function projectVars(p: {
  name: string;
  description: string;
  maintainer: string;
  listen?: string;
  serves?: string;
}): Record<string, string> {
  const listen = p.listen ?? self.forkd.listen;
  return {
    name: p.name,
    description: p.description,
    maintainer: p.maintainer,
    optsVar: optsVar(p.name),
    listen,
    generator: self.version,
    serves: p.serves ?? `serving on ${listen}`,
  };
}

/**
 * The files that template/ makes for the new project, by their path there. A project whose
 * server does not listen has no forkd.listen (so no --listen and no .socket unit).
 */
export function render(vars: Record<string, string>, shape: Template = 'http'): Record<string, string> {
  const template = (file: string) => readFileSync(join(root, 'template', file), 'utf8');
  const base = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Json;
  const pkg = overlay(base, JSON.parse(template('package.json')) as Json, vars) as { forkd: { listen?: string } };
  if (shape !== 'http') delete pkg.forkd.listen;
  return {
    'package.json': `${JSON.stringify(pkg, null, 2)}\n`,
    // The manual describes a daemon that listens, or one that does not ({{#listens}} blocks).
    'README.md': fill(template('README.md'), { ...vars, listens: shape === 'http' ? 'yes' : '' }),
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
    child.on('exit', (code, signal) => done(code ?? 128 + (signal ? osConstants.signals[signal] : 0)));
  }).finally(() => (child = undefined)) as Promise<number>;
}
