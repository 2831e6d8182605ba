// create-forkd-app without a terminal: validation, conflicts, the files it writes, git, install.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { fill, optsVar } from '../../src/create';
import { name as referenceName } from '../lib/identity';
import { root, run, tempDir } from '../lib/proc';
import { create, generator, gitIdentity, maintainer, mentioning, pkg, tree } from './lib';

const flags = [
  '--name',
  '--description',
  '--yes',
  '--overwrite',
  '--no-install',
  '--no-git',
  '--update',
  '--dry-run',
  '--from',
  '--force',
  '--help',
  '--version',
];
const codes = [0, 1, 64, 69, 70, 73, 130];

t.test('--help and the README document every option and exit code', async (t) => {
  const r = await create(['--help']);
  t.equal(r.code, 0);
  t.equal(r.err, '');
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  for (const f of flags) {
    t.match(r.stdout, new RegExp(`^ {2}(-\\w, )? *${f}\\b`, 'm'), `${f} in --help`);
    t.match(readme, `\`${f}`, `${f} in the README`);
  }
  for (const c of codes) {
    t.match(r.stdout, new RegExp(`^  ${c} `, 'm'), `exit ${c} in --help`);
    t.match(readme, `| ${c} |`, `exit ${c} in the README`);
  }
  const v = await create(['-V']);
  t.equal(v.stdout, `create-forkd-app ${pkg.version}\n`);
});

t.test('bad names: one line that lists each problem and the fix, exit 64, nothing written', async (t) => {
  const dir = tempDir(t);
  const cases: [string, RegExp][] = [
    [
      'Acme D',
      /URL-friendly characters \(npm\); can no longer contain capital letters \(npm\); may hold only lowercase/,
    ],
    ['../x', /cannot start with a period \(npm\).*cannot contain '\.' or '\+'/],
    ['-x', /cannot start with a hyphen \(npm\)/],
    ['a'.repeat(40), /has 40 characters, so the user _a{40} would pass useradd's limit of 32 \(use at most 31\)/],
    ['http', /is a core module name \(npm\)/],
    ['node_modules', /is not a valid package name \(npm\)/],
    ['acme.d', /cannot contain '\.' or '\+' \(Debian package names can, adduser's user names cannot\)/],
    ['a', /is shorter than 2 characters/],
  ];
  for (const [bad, why] of cases) {
    const r = await create(['acme', `--name=${bad}`, '--yes'], { cwd: dir });
    t.equal(r.code, 64, `${bad}: exit 64`);
    t.equal(r.err.split('\n').length, 2, `${bad}: one line`);
    t.match(r.err, `create-forkd-app: name ${JSON.stringify(bad)} `);
    t.match(r.err, why);
    t.match(r.err, /; choose another --name\n$/);
  }
  // The default name is the directory's: the fix is then --name.
  const r = await create(['My Dir', '--yes'], { cwd: dir });
  t.equal(r.code, 64);
  t.match(r.err, /name "My Dir" .*; pass --name NAME \(it defaults to the directory's name\)\n$/);
  t.same(readdirSync(dir), [], 'nothing was written');
});

t.test('bad descriptions and usage: one line, exit 64, nothing written', async (t) => {
  const dir = tempDir(t);
  const cases: [string[], RegExp][] = [
    [['--description', 'The acme daemon.'], /must not start with 'A', 'An' or 'The' .*; must not end with a full stop/],
    [['--description', 'acmed serves greetings'], /must not start with the name acmed/],
    [['--description', 'x'.repeat(81)], /has 81 characters; Debian wants at most 80/],
    [['--description', 'two\nlines'], /must be one line of printable text/],
    [['--bogus'], /unknown option --bogus; see --help/],
    [['--name'], /--name needs a value \(write --name=VALUE for one that starts with '-'\)/],
    [['other'], /one project directory, not 2 \(acme other\)/],
    [['--template', 'cli'], /^create-forkd-app: --template "cli" is not a template: http or worker; see --help$/m],
    [['--port', '0'], /^create-forkd-app: --port "0" is not a port number from 1 to 65535; see --help$/m],
    [['--port', '65536'], /--port "65536" is not a port number from 1 to 65535/],
    [['--port', '0x50'], /--port "0x50" is not a port number from 1 to 65535/],
    [
      ['--port', '8081', '--template', 'worker'],
      /--port is for --template http: a worker does not listen; leave it out$/m,
    ],
  ];
  for (const [args, why] of cases) {
    const r = await create(['acme', '--name', 'acmed', '--yes', ...args], { cwd: dir });
    t.equal(r.code, 64, `${args[0]}: exit 64`);
    t.equal(r.err.split('\n').length, 2, `${args[0]}: one line`);
    t.match(r.err, why);
  }
  const none = await create(['--yes'], { cwd: dir });
  t.equal(none.code, 64);
  t.match(none.err, 'no project directory: name one, as in "npm create forkd-app my-daemon"');
  t.same(readdirSync(dir), [], 'nothing was written');
});

t.test('--port and --template worker: the listen address, or a worker in place of the sample', async (t) => {
  const dir = tempDir(t);
  let r = await create(['web', '--name', 'webd', '--port', '9090', '--yes', '--no-install', '--no-git'], { cwd: dir });
  t.equal(r.code, 0, r.err);
  t.equal(JSON.parse(readFileSync(join(dir, 'web', 'package.json'), 'utf8')).forkd.listen, '127.0.0.1:9090');
  t.match(r.stdout, 'serving on 127.0.0.1:9090 in the foreground; Ctrl-C stops it');
  t.match(readFileSync(join(dir, 'web', 'README.md'), 'utf8'), 'in the foreground, serving on 127.0.0.1:9090');

  r = await create(['work', '--name', 'workd', '--template', 'worker', '--yes', '--no-install', '--no-git'], {
    cwd: dir,
  });
  t.equal(r.code, 0, r.err);
  const work = join(dir, 'work');
  const forkd = JSON.parse(readFileSync(join(work, 'package.json'), 'utf8')).forkd;
  t.notOk('listen' in forkd, 'no forkd.listen: no --listen, no .socket unit');
  t.same(forkd.userPaths, ['src/server/', 'test/server/', 'README.md']);
  const sample = (d: string) => tree(d).filter((f) => /^(src|test)\/server\//.test(f));
  t.same(sample(work), sample(join(root, 'template', 'worker')), "the worker's server and tests, not the sample's");
  for (const f of sample(work))
    t.ok(
      readFileSync(join(work, f)).equals(readFileSync(join(root, 'template', 'worker', f))),
      `${f} as in template/worker`,
    );
  t.ok(existsSync(join(work, 'test', 'lifecycle.ts')), "the runtime's tests as they are");
  t.match(r.stdout, 'doing a round of work every 60 s in the foreground; Ctrl-C stops it');
  // Its manual describes a daemon with no socket: none of the sample's listening, restart or HTTP.
  const readme = readFileSync(join(work, 'README.md'), 'utf8');
  for (const http of [
    '[--listen HOST:PORT]',
    '| `--listen HOST:PORT` |',
    'restart [options]',
    'workd restart',
    'SIGUSR2',
    'greeting =',
    'workd.socket` |',
    'GET /',
  ])
    t.notMatch(readme, http, `its README does not mention ${http}`);
  t.match(readme, "printf 'interval = 60\\noutput = out.json\\n' > /tmp/bad.toml", 'a bad config of its own');
  t.match(readme, 'workd: config /tmp/bad.toml:2:10: invalid value; fix the TOML syntax');
  t.match(readme, 'interval = 60   # seconds between two rounds of work');
  t.notMatch(readme, /\{\{|\}\}/, 'no template tag left');
});

/** Every file below dir (node_modules and .git included) with its bytes: a tree's exact state. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(tree(dir, []).map((f) => [f, readFileSync(join(dir, f)).toString('base64')]));
}

t.test('a directory that holds files: each change is listed, and without a yes nothing is replaced', async (t) => {
  const dir = tempDir(t);
  const target = join(dir, 'acme');
  const args = ['acme', '--name', 'acmed', '--yes', '--no-install', '--no-git'];
  t.equal((await create(args, { cwd: dir })).code, 0, 'a project, as generated');

  // The user's work: a changed server, an added dependency, a lock file, files of their own.
  const pkgPath = join(target, 'package.json');
  const theirs = JSON.parse(readFileSync(pkgPath, 'utf8'));
  theirs.dependencies.fastify = '5.6.1';
  writeFileSync(pkgPath, `${JSON.stringify(theirs, null, 2)}\n`);
  writeFileSync(join(target, 'src', 'server', 'index.ts'), '// my server\n');
  writeFileSync(join(target, 'src', 'server', 'routes.ts'), '// my routes\n');
  writeFileSync(join(target, 'package-lock.json'), '{"lockfileVersion": 3}\n');
  mkdirSync(join(target, 'node_modules', 'fastify'), { recursive: true });
  writeFileSync(join(target, 'node_modules', 'fastify', 'package.json'), '{}\n');
  writeFileSync(join(target, 'notes.txt'), 'mine\n');
  const before = snapshot(target);

  // package.json is not listed: merged with the project's, the user's dependency is kept and
  // nothing else of it changes.
  const changed = 'src/server/index.ts would be replaced; notes.txt would be mixed in';
  const r = await create(args, { cwd: dir });
  t.equal(r.code, 73, 'without --overwrite: exit 73');
  t.equal(
    r.err,
    `create-forkd-app: acme is not empty: ${changed}; choose an empty directory, or pass --overwrite (changed files need a yes at a terminal)\n`,
  );
  t.same(snapshot(target), before, 'nothing was written');

  const o = await create([...args, '--overwrite'], { cwd: dir });
  t.equal(o.code, 73, 'with --overwrite but no terminal to say yes: exit 73');
  t.equal(
    o.err,
    `create-forkd-app: acme is not empty: ${changed}; --overwrite replaces changed files only at a terminal, after a yes: run it there, or move them away\n`,
  );
  t.same(
    snapshot(target),
    before,
    'the changed server, the dependency, the lock file and node_modules are as they were',
  );

  // Back to the generated server: what is left differs only in what the user added.
  execFileSync('cp', [join(root, 'src', 'server', 'index.ts'), join(target, 'src', 'server', 'index.ts')]);
  const mixed = snapshot(target);
  const w = await create([...args, '--overwrite'], { cwd: dir });
  t.equal(w.code, 0, `only mixed-in files: --overwrite writes (${w.err.trim()})`);
  t.same(
    snapshot(target),
    mixed,
    'and, every file of the project being the same, changes no byte: fastify, routes.ts, the lock file, node_modules and notes.txt stay',
  );
});

t.test('nothing is written through a symbolic link, with or without --overwrite', async (t) => {
  const dir = tempDir(t);
  const outside = join(dir, 'outside');
  mkdirSync(join(outside, 'scripts'), { recursive: true });
  for (const [name, link, target] of [
    ['dangling', '.gitignore', join(outside, 'authorized_keys')],
    ['linked-dir', 'scripts', join(outside, 'scripts')],
  ]) {
    const target_ = join(dir, name);
    mkdirSync(target_);
    symlinkSync(target, join(target_, link));
    for (const extra of [[], ['--overwrite']]) {
      const r = await create([name, '--name', 'acmed', '--yes', '--no-install', '--no-git', ...extra], { cwd: dir });
      t.equal(r.code, 73, `${name} ${extra.join(' ')}: exit 73`);
      t.equal(
        r.err,
        `create-forkd-app: ${name}: ${link} is a symbolic link; the generator writes nothing through a link or over a directory: move them away\n`,
      );
      t.same(readdirSync(target_), [link], 'nothing written beside it');
    }
  }
  t.same(tree(outside), [], 'and nothing outside');
});

t.test("package.json: the user's dependencies in npm's order are no change; what would change is named", async (t) => {
  const dir = tempDir(t);
  const args = ['acme', '--name', 'acmed', '--yes', '--no-install', '--no-git'];
  t.equal((await create(args, { cwd: dir })).code, 0);
  const path = join(dir, 'acme', 'package.json');
  const pkgJson = JSON.parse(readFileSync(path, 'utf8'));
  // As `npm install fastify` writes it: sorted into the list.
  pkgJson.dependencies = Object.fromEntries(
    Object.entries({ ...pkgJson.dependencies, fastify: '5.6.1' }).sort(([a], [b]) => a.localeCompare(b)),
  );
  writeFileSync(path, `${JSON.stringify(pkgJson, null, 2)}\n`);
  const sorted = readFileSync(path);
  const same = await create([...args, '--overwrite'], { cwd: dir });
  t.equal(same.code, 0, `not a change: written without a yes (${same.err.trim()})`);
  t.ok(readFileSync(path).equals(sorted), 'package.json kept byte for byte');

  pkgJson.version = '1.4.0';
  pkgJson.overrides = { ms: '2.1.3' };
  writeFileSync(path, `${JSON.stringify(pkgJson, null, 2)}\n`);
  const r = await create([...args, '--overwrite'], { cwd: dir });
  t.equal(r.code, 73);
  t.match(
    r.err,
    'package.json would be replaced (package.json: keeping your fastify; changing its version, overrides);',
  );
});

t.test('an empty project directory name: exit 64', async (t) => {
  const dir = tempDir(t);
  const r = await create(['', '--name', 'acmed', '--yes'], { cwd: dir });
  t.equal(r.code, 64);
  t.equal(r.err, 'create-forkd-app: the project directory is an empty string; name one, or . for this directory\n');
  t.same(readdirSync(dir), []);
});

t.test('--overwrite over a lone .git, and over a file', async (t) => {
  const dir = tempDir(t);
  const lone = join(dir, 'lone');
  mkdirSync(join(lone, '.git'), { recursive: true });
  t.equal(
    (await create(['lone', '--name', 'acmed', '--yes', '--no-install', '--no-git'], { cwd: dir })).code,
    0,
    'a lone .git is fine',
  );

  writeFileSync(join(dir, 'file'), '');
  const f = await create(['file', '--name', 'acmed', '--yes'], { cwd: dir });
  t.equal(f.code, 73);
  t.equal(f.err, 'create-forkd-app: file exists and is not a directory; choose another project directory\n');
});

t.test('the project: this package minus the generator, with the identity in package.json only', async (t) => {
  const dir = tempDir(t);
  const env = gitIdentity(dir);
  const r = await create(
    ['acme', '--name', 'acmed', '--description', 'Greeting service for Acme', '--yes', '--no-install', '--no-git'],
    { cwd: dir, env },
  );
  t.equal(r.code, 0, r.err);
  const target = join(dir, 'acme');
  t.match(
    r.stdout,
    /Wrote acmed into acme\. Next:\n\n {2}cd acme\n {2}npm install\n {2}npm run build .*\n {2}npm start .*\n {2}npm test\n {2}npm run package /,
  );

  // The files: what this package ships, less the generator, plus template/'s three.
  const generatorOnly = /^(dist\/create|template|src\/create|test\/create)(\/|$)/;
  const copied = pkg.files
    .filter((f) => !generatorOnly.test(f))
    .flatMap((f) => (statSync(join(root, f)).isDirectory() ? tree(join(root, f)).map((x) => join(f, x)) : [f]))
    .filter((f) => !generatorOnly.test(f));
  t.same(tree(target), [...copied, '.gitignore', 'README.md', 'package.json'].sort(), 'the expected files, no more');
  for (const f of copied)
    if (!readFileSync(join(target, f)).equals(readFileSync(join(root, f)))) t.fail(`${f} differs from the source`);
  t.equal(
    execFileSync('stat', ['-c', '%a', join(target, '.ci', 'run')], { encoding: 'utf8' }).trim(),
    '755',
    '.ci/run stays executable',
  );
  t.equal(readFileSync(join(target, '.gitignore'), 'utf8'), readFileSync(join(root, 'template', '_gitignore'), 'utf8'));

  // package.json: the identity rewritten, the generator's own keys gone, the rest as it was.
  const ours = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const theirs = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8'));
  t.same(theirs.forkd, {
    name: 'acmed',
    description: 'Greeting service for Acme',
    user: '_acmed',
    listen: ours.forkd.listen,
    config: '/etc/acmed/acmed.toml',
    pidfile: '/run/acmed/acmed.pid',
    maintainer,
    // The host's architecture alone: arm64 is one word away (forkd.arches, or --arch), and its
    // base is pinned already (nodeBases).
    arches: ['x64'],
    generator: ours.version,
    userPaths: ['src/server/', 'test/server/', 'README.md'],
  });
  t.same(theirs.nodeBases, ours.nodeBases, "the other architectures' pinned Node, for npm run build -- --arch arm64");
  t.match(theirs, { name: 'acmed', version: '0.1.0', description: 'Greeting service for Acme', private: true });
  t.notOk('bin' in theirs || 'files' in theirs || 'prepack' in theirs.scripts, 'no bin, files or prepack');
  t.same(Object.keys(theirs.dependencies), ['smol-toml'], "the generator's dependencies are not the daemon's");
  const { prepack: _, ...scripts } = ours.scripts;
  t.same(theirs.scripts, scripts);
  t.same(theirs.devDependencies, ours.devDependencies);
  t.same(theirs.binary, ours.binary);

  // The README is the new daemon's; the reference daemon's name is nowhere (grep -ril).
  const readme = readFileSync(join(target, 'README.md'), 'utf8');
  t.match(readme, /^# acmed: Greeting service for Acme\n/);
  t.notMatch(readme, '{{', 'every placeholder filled');
  t.match(readme, '`/etc/default/acmed` | `ACMED_OPTS`');
  t.same(mentioning(target, referenceName), [], `no file mentions ${referenceName}`);
});

t.test("README.md's manual is template/README.md rendered for the reference daemon", async (t) => {
  const marker = "<!-- The manual: everything below is the same in create-forkd-app's README. -->\n";
  const manual = (text: string) => text.slice(text.indexOf(marker) + marker.length);
  const template = readFileSync(join(root, 'template', 'README.md'), 'utf8');
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  t.ok(template.includes(marker) && readme.includes(marker), 'both have the marker');
  const listen = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { forkd: { listen: string } }).forkd
    .listen;
  const want = fill(manual(template), {
    name: referenceName,
    optsVar: optsVar(referenceName),
    listen,
    listens: 'yes',
  }).split('\n');
  const got = manual(readme).split('\n');
  const first = want.findIndex((line, i) => line !== got[i]);
  t.equal(
    first === -1 && want.length === got.length
      ? 'same'
      : `line ${first + 1} of the manual: ${JSON.stringify(got[first])}, want ${JSON.stringify(want[first])}`,
    'same',
    'edit template/README.md, then carry the change into README.md',
  );
});

t.test('git: a repository with one commit by the configured user; none inside a work tree', async (t) => {
  const dir = tempDir(t);
  const env = gitIdentity(dir);
  const r = await create(['acme', '--name', 'acmed', '--yes', '--no-install'], { cwd: dir, env });
  t.equal(r.code, 0, r.err);
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
  const target = join(dir, 'acme');
  t.equal(git(target, 'log', '--format=%an <%ae>|%s'), `${maintainer}|Initial commit from create-forkd-app\n`);
  t.equal(git(target, 'status', '--porcelain'), '', 'everything committed');
  t.equal(
    git(target, 'ls-files').split('\n').filter(Boolean).length,
    tree(target).length,
    'every file is in the commit',
  );

  git(dir, 'init', '-q', 'outer');
  const inner = await create(['outer/acme', '--name', 'acmed', '--yes', '--no-install'], { cwd: dir, env });
  t.equal(inner.code, 0, inner.err);
  t.notOk(existsSync(join(dir, 'outer', 'acme', '.git')), 'no repository inside a work tree');
});

t.test('install: the package manager that runs the generator; a failure keeps the project, exit 69', async (t) => {
  const dir = tempDir(t);
  // PATH without pnpm: the install step must fail, and say so.
  const r = await create(['acme', '--name', 'acmed', '--yes', '--no-git'], {
    cwd: dir,
    env: { npm_config_user_agent: 'pnpm/9.12.0 npm/? node/v20.17.0 linux x64', PATH: '/nonexistent' },
  });
  t.equal(r.code, 69);
  t.match(r.err, 'create-forkd-app: pnpm install in acme\n');
  t.match(
    r.err,
    /create-forkd-app: the project is written, but pnpm install \(exit 127\) failed; run it yourself in acme\n$/,
  );
  t.match(r.stdout, '  pnpm install\n  pnpm run build');
  t.ok(existsSync(join(dir, 'acme', 'package.json')), 'the project is kept');
});

const systemNode = '/usr/bin/node';
const systemVersion = existsSync(systemNode)
  ? execFileSync(systemNode, ['--version'], { encoding: 'utf8' }).trim()
  : '';

t.test(
  'runs on the oldest Node it supports, where the system has one (npm create uses that Node)',
  { skip: !/^v20\./.test(systemVersion) && `no Node 20 at ${systemNode}` },
  async (t) => {
    const dir = tempDir(t);
    const r = await run([systemNode, generator, 'acme', '--name', 'acmed', '--yes', '--no-install', '--no-git'], {
      cwd: dir,
    });
    t.equal(r.code, 0, `${systemVersion}: ${r.err}`);
    t.ok(existsSync(join(dir, 'acme', 'package.json')), `written by Node ${systemVersion}`);
  },
);

t.test('fill(): a placeholder with no value is an error, never "undefined" in a new project', async (t) => {
  t.equal(fill('{{name}} on {{listen}}', { name: 'acmed', listen: '127.0.0.1:8080' }), 'acmed on 127.0.0.1:8080');
  t.throws(() => fill('serves on {{port}}', { name: 'acmed' }), /template placeholder \{\{port\}\} has no value/);
  const blocks = 'a{{#on}} b{{/on}}{{^on}} c{{/on}}';
  t.equal(fill(blocks, { on: 'yes' }), 'a b', '{{#on}} kept, {{^on}} dropped');
  t.equal(fill(blocks, { on: '' }), 'a c', 'and the other way round');
  t.throws(() => fill('{{#off}}x{{/off}}', {}), /template block \{\{#off\}\} has no value/);
});
