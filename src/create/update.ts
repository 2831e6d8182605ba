// create-forkd-app --update, run inside a generated project: brings the runtime's paths to this
// version and keeps the user's work. The project as the recorded version made it (the base) is
// made again by that version's own generator; the project as this version makes it comes from
// here; every runtime path is merged three ways (git merge-file), package.json field by field.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, constants as osConstants, tmpdir } from 'node:os';
import { join, posix, relative } from 'node:path';
import {
  descriptionProblems,
  EX,
  type Existing,
  existing,
  Failure,
  nameProblems,
  type ProjectFile,
  packageManager,
  renderProject,
  self,
  step,
  writeProject,
} from './project';

/** Paths that are the user's when a project records none: update never touches them. */
export const defaultUserPaths = ['src/server/', 'README.md'];

/** The update's exit codes beyond the generator's: conflicts were left to resolve. */
export const UPDATE_CONFLICT = 1;

export interface UpdateArgs {
  dir: string;
  /** The recorded version's package (a tarball, a directory or a spec) if npm cannot fetch it. */
  from?: string;
  dryRun: boolean;
  force: boolean;
  install: boolean;
}

interface Forkd {
  name: string;
  description: string;
  maintainer: string;
  generator?: string;
  userPaths?: string[];
  [key: string]: unknown;
}

type Change = 'added' | 'updated' | 'merged' | 'removed' | 'conflict';

interface Step {
  path: string;
  change: Change;
  /** What to write (undefined: remove the file), unless change is a conflict without markers. */
  file?: ProjectFile;
  remove?: boolean;
  why?: string;
}

type JsonObject = Record<string, unknown>;

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const bytesEqual = (a?: Buffer, b?: Buffer) => (a === undefined ? b === undefined : b !== undefined && a.equals(b));

export async function update(a: UpdateArgs): Promise<number> {
  const shown = relative(process.cwd(), a.dir) || '.';
  const pkgFile = existing(a.dir, 'package.json');
  if (pkgFile.kind !== 'file')
    throw new Failure(
      `${shown} has no package.json to update (${pkgFile.kind === 'blocked' ? pkgFile.why : 'none'}); run --update in a project that create-forkd-app made`,
      EX.USAGE,
    );
  let ours: unknown;
  try {
    ours = JSON.parse(pkgFile.content.toString());
  } catch (e) {
    throw new Failure(
      `${shown}/package.json is not JSON (${(e as Error).message}); fix it, then run --update again`,
      EX.USAGE,
    );
  }
  const forkd = isObject(ours) && isObject(ours.forkd) ? (ours.forkd as Forkd) : undefined;
  if (!isObject(ours) || !forkd || typeof forkd.name !== 'string')
    throw new Failure(
      `${shown}/package.json has no "forkd" block: not a project that create-forkd-app made; run --update in one`,
      EX.USAGE,
    );
  const { recorded, userPaths } = checkRecord(forkd);
  if (compareVersions(recorded, self.version) > 0)
    throw new Failure(
      `${forkd.name} was made by create-forkd-app ${recorded}, newer than this ${self.version}; run create-forkd-app@latest`,
      EX.USAGE,
    );
  if (recorded === self.version && !a.from) {
    process.stdout.write(`${forkd.name} is at create-forkd-app ${self.version} already: nothing to update\n`);
    return EX.OK;
  }
  if (!a.dryRun && !a.force) refuseUncommitted(a.dir, shown);

  const tmp = mkdtempSync(join(tmpdir(), 'forkd-update-'));
  // Ctrl-C (or a kill) takes the temporary copies with it.
  const onSignal = (signal: NodeJS.Signals) => {
    rmSync(tmp, { recursive: true, force: true });
    process.stderr.write(`create-forkd-app: --update cancelled by ${signal}\n`);
    process.exit(128 + osConstants.signals[signal]);
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const sig of signals) process.on(sig, onSignal);
  try {
    const made = renderProject({
      name: forkd.name,
      description: forkd.description,
      maintainer: forkd.maintainer,
      listen: typeof forkd.listen === 'string' ? forkd.listen : undefined,
      // Only the README uses it, and the README is the user's.
      serves: typeof forkd.listen === 'string' ? undefined : 'doing its work',
    });
    const spec = a.from ?? `create-forkd-app@${recorded}`;
    const base = readTree(recreate(spec, recorded, forkd, tmp));
    // A base from another version would make its changes look like the user's, and lose them.
    const baseVersion =
      (JSON.parse(base.get('package.json')?.toString() ?? '{}') as { forkd?: { generator?: string } }).forkd
        ?.generator ?? '0.1.0';
    if (baseVersion !== recorded)
      throw new Failure(
        `${a.from ? `--from ${a.from}` : spec} is create-forkd-app ${baseVersion}, but ${forkd.name} records ${recorded}; pass --from with the package of ${recorded}`,
        EX.USAGE,
      );
    const next = new Map(made.map((f) => [f.path, f]));
    // A path the new version makes the user's (test/server/, the sample's tests, since 0.3.0)
    // becomes the user's here too: recorded in forkd.userPaths, and never written.
    const listed = (pkgText: string | undefined) => {
      const f = (JSON.parse(pkgText ?? '{}') as { forkd?: { userPaths?: unknown } }).forkd?.userPaths;
      return Array.isArray(f) ? (f as string[]) : defaultUserPaths;
    };
    const baseUser = listed(base.get('package.json')?.toString());
    const clean = (p: string) => p.replace(/\/+$/, '');
    const newlyUser = listed(next.get('package.json')?.content.toString()).filter(
      (p) => !baseUser.map(clean).includes(clean(p)) && !userPaths.includes(clean(p)),
    );
    userPaths.push(...newlyUser.map(clean));
    const isUser = (p: string) => userPaths.some((u) => p === u || p.startsWith(`${u}/`));

    const steps: Step[] = [];
    const paths = [...new Set([...base.keys(), ...next.keys()])]
      .filter((p) => p !== 'package.json' && !isUser(p))
      .sort();
    for (const path of paths) {
      const s = mergeFile(path, base.get(path), next.get(path), existing(a.dir, path), tmp);
      if (s) steps.push(s);
    }
    const pkg = mergePackage(
      ours as JsonObject,
      JSON.parse(base.get('package.json')?.toString() ?? '{}') as JsonObject,
      JSON.parse(next.get('package.json')!.content.toString()) as JsonObject,
    );
    if (newlyUser.length) {
      const forkdOut = pkg.merged.forkd as Forkd;
      forkdOut.userPaths = [...(forkd.userPaths ?? defaultUserPaths), ...newlyUser];
      pkg.changes.push(`forkd.userPaths (${newlyUser.join(', ')}: yours from now on)`);
    }
    const conflicts = steps.filter((s) => s.change === 'conflict').length + pkg.conflicts.length;

    const verb = a.dryRun ? 'would ' : '';
    process.stdout.write(`${a.dryRun ? 'Plan: ' : ''}${forkd.name}: create-forkd-app ${recorded} -> ${self.version}\n`);
    for (const s of steps) process.stdout.write(`  ${s.change.padEnd(8)} ${s.path}${s.why ? ` (${s.why})` : ''}\n`);
    for (const c of pkg.changes) process.stdout.write(`  ${'updated'.padEnd(8)} package.json ${c}\n`);
    for (const c of pkg.conflicts) process.stdout.write(`  ${'conflict'.padEnd(8)} package.json ${c}\n`);
    process.stdout.write(
      `${verb ? 'It would change' : 'Changed'} ${steps.length + pkg.changes.length} runtime path(s) and field(s); ${conflicts} conflict(s). Your paths (${userPaths.join(', ')}) and your dependencies are left as they are.\n`,
    );
    printChangelog(recorded);
    if (a.dryRun) return conflicts ? UPDATE_CONFLICT : EX.OK;

    const writes = steps.filter((s) => s.file).map((s) => s.file!);
    try {
      writeProject(a.dir, [
        ...writes,
        { path: 'package.json', content: Buffer.from(`${JSON.stringify(pkg.merged, null, 2)}\n`), mode: pkgFile.mode },
      ]);
    } catch (e) {
      throw new Failure(`cannot update ${shown}: ${(e as Error).message}; nothing was changed`, EX.CANTCREAT);
    }
    for (const s of steps) if (s.remove) rmSync(join(a.dir, s.path), { force: true });

    if (a.install) {
      const pm = packageManager();
      process.stderr.write(`create-forkd-app: ${pm} install in ${shown}\n`);
      const code = await step(pm, ['install'], a.dir);
      if (code !== 0)
        throw new Failure(
          `updated, but ${pm} install failed (exit ${code}); run it yourself in ${shown}`,
          EX.UNAVAILABLE,
        );
    }
    if (conflicts) {
      process.stderr.write(
        `create-forkd-app: ${conflicts} conflict(s): resolve the <<<<<<< markers (and the package.json fields listed), then build, test and commit\n`,
      );
      return UPDATE_CONFLICT;
    }
    process.stdout.write('Next: npm run build && npm test, then commit.\n');
    return EX.OK;
  } finally {
    for (const sig of signals) process.off(sig, onSignal);
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The project's record, checked: forkd.generator must be a plain version (it becomes an npm
 * package spec, and a spec such as file: or github: would run code), the identity must be one
 * the generator accepts, and forkd.userPaths a list of paths inside the project.
 */
function checkRecord(forkd: Forkd): { recorded: string; userPaths: string[] } {
  // 0.1.0 recorded nothing, and was the only version before 0.2.0.
  const recorded = forkd.generator ?? '0.1.0';
  if (typeof recorded !== 'string' || !/^\d+\.\d+\.\d+$/.test(recorded))
    throw new Failure(
      `forkd.generator in package.json is ${JSON.stringify(recorded)}, not a version like 0.2.0; set it to the create-forkd-app version that made the project`,
      EX.USAGE,
    );
  const np = nameProblems(forkd.name);
  if (np.length)
    throw new Failure(
      `forkd.name in package.json, ${JSON.stringify(forkd.name)}, ${np.join('; ')}; fix it first`,
      EX.USAGE,
    );
  const dp =
    typeof forkd.description === 'string' ? descriptionProblems(forkd.description, forkd.name) : ['is missing'];
  if (dp.length) throw new Failure(`forkd.description in package.json ${dp.join('; ')}; fix it first`, EX.USAGE);
  const given: unknown = forkd.userPaths ?? defaultUserPaths;
  if (!Array.isArray(given) || given.some((p) => typeof p !== 'string' || !p.trim()))
    throw new Failure(
      'forkd.userPaths in package.json must be a list of paths, such as ["src/server/", "README.md"]; fix it first',
      EX.USAGE,
    );
  const userPaths = (given as string[]).map((p) =>
    posix
      .normalize(p)
      .replace(/^(\.\/)+/, '')
      .replace(/\/+$/, ''),
  );
  const outside = userPaths.filter((p) => p === '.' || p === '..' || p.startsWith('../') || p.startsWith('/'));
  if (outside.length)
    throw new Failure(
      `forkd.userPaths in package.json names ${outside.join(', ')}, not a path inside the project; fix it first`,
      EX.USAGE,
    );
  return { recorded, userPaths };
}

/** Refuses a project with uncommitted changes: an update must be a change of its own, easy to review and to undo. */
function refuseUncommitted(dir: string, shown: string): void {
  const r = spawnSync('git', ['status', '--porcelain', '--untracked-files=normal', '.'], {
    cwd: dir,
    encoding: 'utf8',
  });
  if (r.error || r.status !== 0)
    throw new Failure(
      `${shown} is not in a git work tree, so its changes cannot be told from the update's; commit it to git first, or pass --force`,
      EX.CANTCREAT,
    );
  // Ignored by an enclosing repository, nothing would show as changed, and nothing could be undone.
  if (spawnSync('git', ['ls-files', '--error-unmatch', 'package.json'], { cwd: dir, stdio: 'ignore' }).status !== 0)
    throw new Failure(
      `${shown}/package.json is not tracked by git (is the project ignored?), so the update could not be undone; commit the project first, or pass --force`,
      EX.CANTCREAT,
    );
  const dirty = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.slice(3));
  if (dirty.length)
    throw new Failure(
      `${shown} has uncommitted changes (${dirty.join(', ')}); commit or stash them first, or pass --force`,
      EX.CANTCREAT,
    );
}

/** Makes the project again with the recorded version's generator, into tmp/base. */
function recreate(spec: string, version: string, forkd: Forkd, tmp: string): string {
  const out = join(tmp, 'base');
  // npm exec keeps the package it fetched in its _npx cache: take out what this run put there.
  const npx = join(process.env.npm_config_cache || join(homedir(), '.npm'), '_npx');
  const entries = () => (existsSync(npx) ? readdirSync(npx) : []);
  const before = new Set(entries());
  const forget = () => {
    for (const e of entries()) {
      const manifest = join(npx, e, 'package.json');
      if (!before.has(e) && existsSync(manifest) && readFileSync(manifest, 'utf8').includes(spec))
        rmSync(join(npx, e), { recursive: true, force: true });
    }
  };
  const r = spawnSync(
    'npm',
    [
      'exec',
      '--yes',
      `--package=${spec}`,
      '--',
      'create-forkd-app',
      out,
      '--name',
      forkd.name,
      '--description',
      forkd.description,
      '--yes',
      '--no-install',
      '--no-git',
    ],
    { cwd: tmp, encoding: 'utf8', env: { ...process.env, CI: '1' } },
  );
  forget();
  if (r.status !== 0) {
    const said = `${r.stderr ?? ''}${r.error?.message ?? ''}`.trim().split('\n').pop();
    throw new Failure(
      `cannot make the project as create-forkd-app ${version} made it (npm exec ${spec}: ${said}); pass --from with that version's package tarball`,
      EX.UNAVAILABLE,
    );
  }
  return out;
}

function readTree(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (rel: string) => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p);
      else files.set(p, readFileSync(join(dir, p)));
    }
  };
  walk('');
  return files;
}

/** What to do with one runtime path, given the base, the new version and the project's copy. */
function mergeFile(
  path: string,
  base: Buffer | undefined,
  next: ProjectFile | undefined,
  here: Existing,
  tmp: string,
): Step | undefined {
  if (here.kind === 'blocked')
    return bytesEqual(base, next?.content) ? undefined : { path, change: 'conflict', why: `${here.why}: left alone` };
  const ours = here.kind === 'file' ? here.content : undefined;
  if (bytesEqual(base, next?.content)) return undefined; // no change upstream: a local edit stays
  if (bytesEqual(ours, next?.content)) return undefined; // the project has it already
  if (bytesEqual(ours, base)) {
    if (!next) return { path, change: 'removed', remove: true };
    return { path, change: base ? 'updated' : 'added', file: next };
  }
  if (!next)
    return {
      path,
      change: 'conflict',
      why: 'removed in the new version, changed here: kept; remove it if it is not yours',
    };
  if (!ours)
    return {
      path,
      change: 'conflict',
      why: 'changed in the new version, removed here: left out; take it from the new version if you need it',
    };
  const files = ['ours', 'base', 'theirs'].map((n) => join(tmp, `merge-${n}`));
  for (const [i, b] of [ours, base ?? Buffer.alloc(0), next.content].entries()) writeFileSync(files[i], b);
  let merged: Buffer;
  let conflicts = 0;
  try {
    merged = execFileSync(
      'git',
      [
        'merge-file',
        '-p',
        '-L',
        'yours',
        '-L',
        `create-forkd-app (base)`,
        '-L',
        `create-forkd-app ${self.version}`,
        ...files,
      ],
      { maxBuffer: 64 << 20 },
    );
  } catch (e) {
    const err = e as { status?: number; stdout?: Buffer };
    if (typeof err.status !== 'number' || err.status < 0 || err.status > 127 || !err.stdout)
      throw new Failure(`cannot merge ${path}: git merge-file failed; is git installed?`, EX.UNAVAILABLE);
    conflicts = err.status;
    merged = err.stdout;
  }
  return {
    path,
    change: conflicts ? 'conflict' : 'merged',
    file: { ...next, content: merged },
    why: conflicts ? `${conflicts} conflict(s) marked in it` : 'with your changes',
  };
}

/**
 * package.json, field by field: where the project still has the base's value, the new version's
 * is taken; where only the project changed it, the project's stays; where both changed it, the
 * project's stays and it is listed as a conflict. The forkd block is the project's, with the new
 * version recorded; dependencies and scripts the user added are never in the base, so they stay.
 */
function mergePackage(
  ours: JsonObject,
  base: JsonObject,
  next: JsonObject,
): { merged: JsonObject; changes: string[]; conflicts: string[] } {
  const merged = structuredClone(ours);
  const changes: string[] = [];
  const conflicts: string[] = [];
  const three = (into: JsonObject, o: JsonObject, b: JsonObject, n: JsonObject, where: string) => {
    for (const key of new Set([...Object.keys(b), ...Object.keys(n)])) {
      if (!where && key === 'forkd') continue; // the identity is the project's
      const [ov, bv, nv] = [o[key], b[key], n[key]];
      const name = `${where}${key}`;
      if (same(bv, nv) || same(ov, nv)) continue;
      const objects = [ov, bv, nv].every(
        (v) => v === undefined || (typeof v === 'object' && v !== null && !Array.isArray(v)),
      );
      if (!where && objects) {
        into[key] ??= {};
        three(
          into[key] as JsonObject,
          (ov ?? {}) as JsonObject,
          (bv ?? {}) as JsonObject,
          (nv ?? {}) as JsonObject,
          `${key}.`,
        );
      } else if (same(ov, bv)) {
        if (nv === undefined) delete into[key];
        else into[key] = nv;
        changes.push(`${name}${nv === undefined ? ' (removed)' : ''}`);
      } else conflicts.push(`${name}: yours ${JSON.stringify(ov)}, the new version's ${JSON.stringify(nv)}`);
    }
  };
  three(merged, ours, base, next, '');
  merged.forkd = { ...(ours.forkd as JsonObject), generator: self.version };
  return { merged, changes, conflicts };
}

/** What the versions after the recorded one bring, from CHANGELOG.md. */
function printChangelog(since: string): void {
  const file = join(__dirname, '..', '..', 'CHANGELOG.md');
  if (!existsSync(file)) return;
  const newer = (v: string) => compareVersions(v, since) > 0;
  const sections = readFileSync(file, 'utf8')
    .split(/^(?=## )/m)
    .filter((s) => {
      const v = /^## (\d+\.\d+\.\d+)/.exec(s)?.[1];
      return v !== undefined && newer(v);
    });
  if (sections.length)
    process.stdout.write(`\nWhat the update brings (CHANGELOG.md):\n\n${sections.join('').trim()}\n\n`);
}

/** Compares two x.y.z versions: negative, 0 or positive. */
function compareVersions(a: string, b: string): number {
  const [x, y] = [a, b].map((v) => v.split(/[.-]/).slice(0, 3).map(Number));
  return x.reduce((d, n, i) => d || n - (y[i] ?? 0), 0);
}
