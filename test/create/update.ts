// create-forkd-app --update: two versions of the generator built from this checkout; a project
// made by the first, with the user's work in it, updated by the second. (The updated project
// building, passing its own suite and serving is test/create/e2e.ts's.)
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { run, tempDir } from '../lib/proc';
import { changedRuntimeFile, create, forgetNpx, gitIdentity, tree, twoVersions, type Versions, v2Marker } from './lib';

t.setTimeout(10 * 60_000);

let versions: Versions;
let top: string;
t.before(async () => {
  top = tempDir(t);
  versions = await twoVersions(top);
});
t.teardown(() => forgetNpx(versions.v1));

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, ...gitIdentity(top) } });

/** A project made by v1 (with v1's own generator), committed, with the given edits committed too. */
async function project(t: { teardown(fn: () => void): void }, edit: (dir: string) => void): Promise<string> {
  const dir = join(tempDir(t), 'acme');
  const made = await run(
    [
      'npm',
      'exec',
      '--yes',
      `--package=${versions.v1}`,
      '--',
      'create-forkd-app',
      dir,
      '--name',
      'acmed',
      '--yes',
      '--no-install',
      '--no-git',
    ],
    { timeoutMs: 300_000 },
  );
  if (made.code !== 0) throw new Error(`v1 create-forkd-app: ${made.err}`);
  git(dir, 'init', '-q');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'as generated');
  edit(dir);
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '--allow-empty', '-m', 'the user’s work');
  return dir;
}

const updateArgs = (dir: string, ...more: string[]) => [
  process.execPath,
  versions.v2Generator,
  '--update',
  dir,
  '--from',
  versions.v1,
  '--no-install',
  ...more,
];

/** Every file with its bytes, .git included: the project's exact state. */
const snapshot = (dir: string) =>
  Object.fromEntries(tree(dir, []).map((f) => [f, readFileSync(join(dir, f)).toString('base64')]));

/** The user's work: a server of their own, a dependency, and a local edit to a runtime file. */
function usersWork(dir: string): void {
  appendFileSync(join(dir, 'src', 'server', 'index.ts'), '// my own route goes here\n');
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  pkg.dependencies.ms = '2.1.3';
  pkg.scripts.mine = 'echo mine';
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  appendFileSync(join(dir, 'src', 'daemon', 'logger.ts'), '// my local note\n');
}

t.test('a new project records the version that made it and the paths that are the user’s', async (t) => {
  const dir = await project(t, () => {});
  const { forkd, version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const v1 = /create-forkd-app-(.*)\.tgz$/.exec(versions.v1)![1];
  t.equal(forkd.generator, v1, `forkd.generator: ${v1}`);
  t.same(forkd.userPaths, ['src/server/', 'test/server/', 'README.md'], 'forkd.userPaths');
  t.equal(version, '0.1.0', "the project's own version is its own");
});

t.test('--dry-run: the plan is printed and no byte changes', async (t) => {
  const dir = await project(t, usersWork);
  const before = snapshot(dir);
  const r = await run(updateArgs(dir, '--dry-run'));
  t.equal(r.code, 0, r.err);
  t.match(
    r.stdout,
    new RegExp(`^Plan: acmed: create-forkd-app \\S+ -> ${versions.v2Version.replace(/\./g, '\\.')}$`, 'm'),
  );
  t.match(r.stdout, `  updated  ${changedRuntimeFile}\n`);
  t.match(r.stdout, '  added    test/added-in-v2.ts\n');
  t.same(snapshot(dir), before, 'every file, .git included, as it was');
});

t.test('the runtime change comes in; the server, the dependency and the local edit stay', async (t) => {
  const dir = await project(t, usersWork);
  const server = readFileSync(join(dir, 'src', 'server', 'index.ts'), 'utf8');
  const r = await run(updateArgs(dir));
  t.equal(r.code, 0, r.err);
  t.match(r.stdout, `  updated  ${changedRuntimeFile}\n`, 'it says what changed');
  t.ok(
    readFileSync(join(dir, changedRuntimeFile), 'utf8').startsWith(`${v2Marker(versions.v2Version)}\n`),
    'the changed runtime line is in',
  );
  t.ok(existsSync(join(dir, 'test', 'added-in-v2.ts')), 'the new runtime test is in');
  t.equal(readFileSync(join(dir, 'src', 'server', 'index.ts'), 'utf8'), server, 'the custom server is intact');
  t.match(
    readFileSync(join(dir, 'src', 'daemon', 'logger.ts'), 'utf8'),
    /\/\/ my local note\n$/,
    'the local edit to a runtime file is kept',
  );
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  t.equal(pkg.dependencies.ms, '2.1.3', 'the added dependency is kept');
  t.equal(pkg.scripts.mine, 'echo mine', 'the added script is kept');
  t.equal(pkg.scripts['added-in-v2'], 'echo added in v2', "the runtime's new script is in");
  t.equal(pkg.forkd.generator, versions.v2Version, 'the new version is recorded');
  t.equal(pkg.forkd.name, 'acmed', 'the identity is kept');
  t.same(
    git(dir, 'status', '--porcelain').split('\n').filter(Boolean).sort(),
    [` M ${changedRuntimeFile}`, ' M package.json', '?? test/added-in-v2.ts'],
    'nothing else changed',
  );
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'update');
  const again = await run([process.execPath, versions.v2Generator, '--update', dir, '--no-install']);
  t.equal(again.code, 0, again.err);
  t.equal(
    again.stdout,
    `acmed is at create-forkd-app ${versions.v2Version} already: nothing to update\n`,
    'a second update finds nothing to do',
  );
});

t.test(
  'a conflicting local edit: markers, exit 1, the rest of the update in, the user’s paths untouched',
  async (t) => {
    const dir = await project(t, (d) => {
      usersWork(d);
      const file = join(d, changedRuntimeFile);
      const [first, ...rest] = readFileSync(file, 'utf8').split('\n');
      writeFileSync(file, [`${first} /* mine */`, ...rest].join('\n'));
    });
    const server = readFileSync(join(dir, 'src', 'server', 'index.ts'), 'utf8');
    const r = await run(updateArgs(dir));
    t.equal(r.code, 1, 'exit 1: conflicts to resolve');
    t.match(r.stdout, `  conflict ${changedRuntimeFile} (1 conflict(s) marked in it)\n`);
    t.match(r.err, /1 conflict\(s\): resolve the <<<<<<< markers/);
    const text = readFileSync(join(dir, changedRuntimeFile), 'utf8');
    t.match(text, /^<<<<<<< yours\n.* \/\* mine \*\/\n=======\n/m, 'standard conflict markers, the user’s side first');
    t.match(text, new RegExp(`^>>>>>>> create-forkd-app ${versions.v2Version.replace(/\./g, '\\.')}$`, 'm'));
    t.equal(readFileSync(join(dir, 'src', 'server', 'index.ts'), 'utf8'), server, 'the server untouched');
    t.equal(
      JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).dependencies.ms,
      '2.1.3',
      'the dependency kept',
    );
  },
);

t.test('refused: uncommitted changes, a directory that is not a project, flags that do not go together', async (t) => {
  const dir = await project(t, () => {});
  appendFileSync(join(dir, 'src', 'server', 'index.ts'), '// not committed\n');
  const before = snapshot(dir);
  const dirty = await run(updateArgs(dir));
  t.equal(dirty.code, 73);
  t.match(
    dirty.err,
    /^create-forkd-app: \S+ has uncommitted changes \(src\/server\/index\.ts\); commit or stash them first, or pass --force\n$/,
  );
  t.same(snapshot(dir), before, 'nothing changed');

  const empty = tempDir(t);
  const none = await run([process.execPath, versions.v2Generator, '--update', empty]);
  t.equal(none.code, 64);
  t.match(none.err, /has no package\.json to update \(none\); run --update in a project that create-forkd-app made\n$/);

  const clash = await run([process.execPath, versions.v2Generator, '--update', dir, '--name', 'other']);
  t.equal(clash.code, 64);
  t.equal(clash.err, "create-forkd-app: --update keeps the project's identity and files: leave out --name\n");
  const alone = await create(['acme', '--dry-run']);
  t.equal(alone.code, 64);
  t.equal(alone.err, 'create-forkd-app: --dry-run is only for --update; see --help\n');
});

t.test('a runtime file that is a symbolic link: a conflict, and nothing written through it', async (t) => {
  const outside = join(tempDir(t), 'victim.rc');
  writeFileSync(outside, 'export SECRET=1\n');
  const dir = await project(t, (d) => {
    rmSync(join(d, changedRuntimeFile));
    symlinkSync(outside, join(d, changedRuntimeFile));
    symlinkSync(join(tempDir(t), 'dangling.ts'), join(d, 'test', 'added-in-v2.ts'));
  });
  const r = await run(updateArgs(dir));
  t.equal(r.code, 1, 'exit 1: conflicts');
  t.match(r.stdout, `  conflict ${changedRuntimeFile} (${changedRuntimeFile} is a symbolic link: left alone)\n`);
  t.match(r.stdout, '  conflict test/added-in-v2.ts (test/added-in-v2.ts is a symbolic link: left alone)\n');
  t.equal(readFileSync(outside, 'utf8'), 'export SECRET=1\n', 'the file outside is untouched');
});

t.test('a record that is not what create-forkd-app wrote is refused, before anything runs', async (t) => {
  const marker = join(tempDir(t), 'ran');
  const cases: [string, (forkd: Record<string, unknown>) => void, RegExp][] = [
    [
      'a package spec as the version',
      (f) => (f.generator = `file:${marker}`),
      /forkd\.generator in package\.json is "file:.*", not a version like 0\.2\.0/,
    ],
    ['a number as the version', (f) => (f.generator = 42), /forkd\.generator in package\.json is 42, not a version/],
    [
      'userPaths as a string',
      (f) => (f.userPaths = 'src/server'),
      /forkd\.userPaths in package\.json must be a list of paths/,
    ],
    [
      'a user path outside',
      (f) => (f.userPaths = ['../elsewhere']),
      /forkd\.userPaths in package\.json names \.\.\/elsewhere, not a path inside the project/,
    ],
    [
      'a description Debian refuses',
      (f) => (f.description = 'My daemon does things.'),
      /forkd\.description in package\.json must not end with a full stop/,
    ],
  ];
  for (const [what, edit, message] of cases) {
    const dir = await project(t, (d) => {
      const pkg = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8'));
      edit(pkg.forkd);
      writeFileSync(join(d, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
    });
    const r = await run(updateArgs(dir, '--dry-run'));
    t.equal(r.code, 64, `${what}: exit 64`);
    t.match(r.err, message, `${what}: says which field and the fix`);
  }
  t.notOk(existsSync(marker), 'nothing that the record named was run');
});

t.test('user paths written without a slash, or with ./, are protected all the same', async (t) => {
  const dir = await project(t, (d) => {
    const pkg = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8'));
    pkg.forkd.userPaths = ['./src/server', 'README.md', 'native'];
    writeFileSync(join(d, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
    appendFileSync(join(d, changedRuntimeFile), '// mine now\n');
  });
  const r = await run(updateArgs(dir));
  t.equal(r.code, 0, r.err);
  t.notMatch(r.stdout, changedRuntimeFile, 'native/, listed as the user’s, is not touched');
  t.match(readFileSync(join(dir, changedRuntimeFile), 'utf8'), /\/\/ mine now\n$/);
});

t.test('--from a package of another version than the recorded one is refused', async (t) => {
  const dir = await project(t, () => {});
  const r = await run([process.execPath, versions.v2Generator, '--update', dir, '--from', versions.v2, '--no-install']);
  t.equal(r.code, 64);
  t.match(
    r.err,
    new RegExp(
      `--from \\S+ is create-forkd-app ${versions.v2Version.replace(/\./g, '\\.')}, but acmed records \\S+; pass --from with the package of`,
    ),
  );
  t.equal(git(dir, 'status', '--porcelain'), '', 'nothing changed');
});

t.test('a project that an enclosing repository ignores is refused: the update could not be undone', async (t) => {
  const dir = await project(t, () => {});
  const outer = join(tempDir(t), 'outer');
  mkdirSync(join(outer, 'packages'), { recursive: true });
  git(outer, 'init', '-q');
  writeFileSync(join(outer, '.gitignore'), 'packages/\n');
  execFileSync('cp', ['-a', dir, join(outer, 'packages', 'd')]);
  rmSync(join(outer, 'packages', 'd', '.git'), { recursive: true, force: true });
  const r = await run(updateArgs(join(outer, 'packages', 'd')));
  t.equal(r.code, 73);
  t.match(
    r.err,
    /package\.json is not tracked by git \(is the project ignored\?\), so the update could not be undone; commit the project first, or pass --force\n$/,
  );
});

t.test('a path the new version makes the user’s (test/server/) is added to theirs, and not written', async (t) => {
  // v1 as a release before test/server/ was the user's: its template lists only src/server/ and
  // README.md, and it ships no test/server/.
  const old = join(tempDir(t), 'old');
  mkdirSync(old);
  execFileSync('tar', ['-xzf', versions.v1, '-C', old]);
  const pkgDir = join(old, 'package');
  const template = join(pkgDir, 'template', 'package.json');
  writeFileSync(template, readFileSync(template, 'utf8').replace('      "test/server/",\n', ''));
  rmSync(join(pkgDir, 'test', 'server'), { recursive: true });
  const packed = await run(['npm', 'pack', '--ignore-scripts', '--json', '--pack-destination', old], {
    cwd: pkgDir,
    timeoutMs: 180_000,
  });
  t.equal(packed.code, 0, packed.err);
  const tarball = join(old, (JSON.parse(packed.stdout) as { filename: string }[])[0].filename);
  t.teardown(() => forgetNpx(tarball));
  const dir = join(tempDir(t), 'acme');
  const made = await run(
    ['npm', 'exec', '--yes', `--package=${tarball}`, '--', 'create-forkd-app', dir, '--name', 'acmed', '--yes'].concat([
      '--no-install',
      '--no-git',
    ]),
    { timeoutMs: 300_000 },
  );
  t.equal(made.code, 0, made.err);
  t.same(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).forkd.userPaths, ['src/server/', 'README.md']);
  // The user's own tests of their server, where the new version puts the sample's.
  mkdirSync(join(dir, 'test', 'server'));
  writeFileSync(join(dir, 'test', 'server', 'http.ts'), '// my tests\n');
  git(dir, 'init', '-q');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'as generated, with my tests');
  const r = await run([process.execPath, versions.v2Generator, '--update', dir, '--from', tarball, '--no-install']);
  t.equal(r.code, 0, r.err);
  t.match(r.stdout, 'package.json forkd.userPaths (test/server/: yours from now on)', 'it says so');
  t.notMatch(r.stdout, /test\/server\/(?!: yours)/, 'and lists no file under it');
  t.same(
    JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).forkd.userPaths,
    ['src/server/', 'README.md', 'test/server/'],
    'recorded in forkd.userPaths',
  );
  t.equal(readFileSync(join(dir, 'test', 'server', 'http.ts'), 'utf8'), '// my tests\n', 'their test is intact');
  t.same(git(dir, 'status', '--porcelain', '--', 'test/server').trim(), '', 'nothing written under test/server/');
});
