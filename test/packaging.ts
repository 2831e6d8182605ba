// The packages: built from one description, reproducible, linted, and with the files they should
// hold. Installing, running, upgrading and purging them happens on booted Debian containers
// (test/installed.ts), never on this machine.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import t from 'tap';
import { contentsFor, describe, type Entry } from './lib/description';
import { sha256File as sha, sha256 } from './lib/hash';
import { name, pkg, version } from './lib/identity';
import { executablePath, foreignExecutables } from './lib/launchers';
import { buildWith, epoch, packages } from './lib/packages';
import { root, run, spawnClean, tempDir, waitFor } from './lib/proc';

const { buildId } = require('../scripts/arch') as { buildId(file: string): string };

/** One installed path as a listing shows it: "- 0644 root:root 1234 /etc/x" (a symlink: no mode, no size). */
const row = (kind: string, mode: number, owner: string, size: number | undefined, path: string) =>
  kind === 'l' ? `l ${owner} ${path}` : `${kind} ${mode.toString(8).padStart(4, '0')} ${owner} ${size ?? ''} ${path}`;
/** ls -l's permissions (rwxr-xr-x) as a number. */
const octal = (perms: string) => [...perms].reduce((n, c) => n * 2 + (c === '-' ? 0 : 1), 0);
/** The rows of `dpkg-deb -c` or `tar -tv` output: type, mode, owner, size, path under prefix. */
function listed(text: string, prefix: string): string[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [perms, owner, size, , , ...rest] = line.split(/\s+/);
      const path = `/${rest
        .join(' ')
        .replace(/ -> .*$/, '')
        .slice(prefix.length)}`.replace(/(.)\/$/, '$1');
      const who = owner.replace(/^0\/0$/, 'root/root').replace('/', ':');
      return row(perms[0], octal(perms.slice(1)), who, perms[0] === 'd' ? undefined : Number(size), path);
    });
}
/** The rows the description gives one format; `owners`: whether it records owners (rpm), else root's. */
function described(entries: Entry[], packager: string, owners: boolean): string[] {
  return contentsFor(entries, packager).map((e) =>
    row(
      e.type === 'dir' ? 'd' : e.type === 'symlink' ? 'l' : '-',
      e.mode,
      owners ? `${e.owner}:${e.group}` : 'root:root',
      e.content?.length,
      e.dst,
    ),
  );
}

// Building the packages (or waiting for test/installed.ts to) takes minutes on a busy machine.
t.setTimeout(20 * 60_000);

t.test('packages', async (t) => {
  const dir = tempDir(t);
  // Built once for this tree and shared with test/installed.ts (test/lib/packages.ts).
  const built = await packages(t);
  const { deb, rpm, tarball, dbgsym, debuginfo } = built;
  t.equal(basename(deb), `${name}_${version}_amd64.deb`);
  t.equal(basename(rpm), `${name}-${version}-1.x86_64.rpm`);
  t.equal(basename(tarball), `${name}-${version}-linux-x64.tar.gz`);
  t.equal(basename(dbgsym), `${name}-dbgsym_${version}_amd64.deb`);
  t.equal(basename(debuginfo), `${name}-debuginfo-${version}-1.x86_64.rpm`);
  const size = (f: string) => statSync(f).size;
  for (const [a, p] of Object.entries(built.byArch))
    t.comment(
      `sizes ${a}: executable ${size(a === 'x64' ? executablePath : foreignExecutables().find((e) => e.arch === a)!.path)}, .deb ${size(p.deb)}, .rpm ${size(p.rpm)}, .tar.gz ${size(p.tarball)}, -dbgsym .deb ${size(p.dbgsym)}, -debuginfo .rpm ${size(p.debuginfo)}`,
    );

  t.test('reproducible: the same SOURCE_DATE_EPOCH gives the same bytes', async (t) => {
    const again = join(dir, 'again');
    const [deb2] = await buildWith('package-deb.js', again);
    t.equal(sha(deb2), sha(deb), '.deb identical');
    const [tarball2] = await buildWith('package-tarball.js', again);
    t.equal(sha(tarball2), sha(tarball), 'tarball identical');
  });

  t.test('each package holds what the description lists for its format, with its mode, owner and type', async (t) => {
    // The packages were built with SOURCE_DATE_EPOCH=epoch: so is this description, byte for byte.
    const saved = process.env.SOURCE_DATE_EPOCH;
    process.env.SOURCE_DATE_EPOCH = epoch;
    t.teardown(() => {
      if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
      else process.env.SOURCE_DATE_EPOCH = saved;
    });
    const desc = describe();
    const sorted = (rows: string[]) => [...rows].sort();
    // A .deb and a tarball hold every parent directory too: the description's directories are
    // among them; their files and symlinks are exactly the description's.
    const notDirs = (rows: string[]) => sorted(rows.filter((r) => !r.startsWith('d ')));
    for (const [what, pkgFile, entries] of [
      [basename(deb), deb, desc.contents],
      [basename(dbgsym), dbgsym, desc.debug.contents],
    ] as const) {
      const inDeb = listed(execFileSync('dpkg-deb', ['-c', pkgFile], { encoding: 'utf8' }), './');
      const want = described(entries, 'deb', false);
      t.same(notDirs(inDeb), notDirs(want), `${what}: the described files, each once, mode and size`);
      t.same(
        want.filter((r) => r.startsWith('d ') && !inDeb.includes(r)),
        [],
        `${what}: the described directories`,
      );
    }
    const conffiles = execFileSync('sh', ['-c', 'dpkg-deb --ctrl-tarfile "$1" | tar -xO ./conffiles', 'sh', deb], {
      encoding: 'utf8',
    });
    t.same(
      conffiles.trim().split('\n'),
      contentsFor(desc.contents, 'deb')
        .filter((e) => e.type.startsWith('config'))
        .map((e) => e.dst),
      "the .deb's conffiles are the config entries",
    );

    const top = `${name}-${version}-linux-x64/`;
    const inTar = listed(execFileSync('tar', ['-tvzf', tarball], { encoding: 'utf8' }), top).filter(
      (r) => !r.endsWith(' /'), // the top directory itself
    );
    const wantTar = described(desc.contents, 'tarball', false);
    t.same(notDirs(inTar), notDirs(wantTar), 'the tarball: the described files, each once');

    // An rpm holds what %files lists, directories included, with their owners. Flags: c %config,
    // n noreplace, l %license (rpm marks files under /usr/share/doc and man pages %doc itself).
    const query =
      '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILESIZES} %{FILEFLAGS:fflags} %{FILENAMES}\n]';
    const flags: Record<string, string> = { config: 'c', 'config|noreplace': 'cn', license: 'l' };
    for (const [what, pkgFile, entries] of [
      [basename(rpm), rpm, desc.contents],
      [basename(debuginfo), debuginfo, desc.debug.contents],
    ] as const) {
      const out = execFileSync('rpm', ['-qp', '--qf', query, pkgFile], { encoding: 'utf8' }).trim().split('\n');
      const rows = out.map((l) => {
        const [perms, owner, size, , path] = l.split(' ');
        return row(perms[0], octal(perms.slice(1)), owner, perms[0] === 'd' ? undefined : Number(size), path);
      });
      t.same(sorted(rows), sorted(described(entries, 'rpm', true)), `${what}: the described files and directories`);
      t.same(
        sorted(out.map((l) => `${l.split(' ')[4]} ${l.split(' ')[3].replace(/[^cnl]/g, '')}`)),
        sorted(contentsFor(entries, 'rpm').map((e) => `${e.dst} ${flags[e.type] ?? ''}`)),
        `${what}: %config, noreplace and %license as the entries' types`,
      );
    }
  });

  t.test('lintian, every architecture and the -dbgsym: 0 errors, 0 warnings; every override says why', async (t) => {
    // lintian leaves an mldbm-elf-* cache file in TMPDIR: keep it in the test's own directory.
    const debs = Object.values(built.byArch).flatMap((p) => [p.deb, p.dbgsym]);
    const r = await run(['lintian', '--tag-display-limit', '0', '-I', ...debs], {
      timeoutMs: 120_000,
      env: { TMPDIR: dir },
    });
    const tags = r.stdout.split('\n').filter((l) => /^[EWI]: /.test(l));
    t.same(
      tags.filter((l) => /^[EW]: /.test(l)),
      [],
      'no errors or warnings',
    );
    t.same(tags, [], 'not even information tags');
    const x = join(dir, 'x');
    execFileSync('dpkg-deb', ['-x', deb, x]);
    const overrides = readFileSync(join(x, 'usr/share/lintian/overrides', name), 'utf8').split('\n');
    overrides.forEach((line, i) => {
      if (line.startsWith(`${name}: `))
        t.ok(
          overrides
            .slice(0, i)
            .reverse()
            .find((l) => !l.startsWith(`${name}: `))
            ?.startsWith('#'),
          `commented: ${line}`,
        );
    });
  });

  t.test(`rpmlint: 0 errors; rpm -qlp lists the files; the binary inside is out/${name} and runs`, async (t) => {
    const rpms = Object.values(built.byArch).flatMap((p) => [p.rpm, p.debuginfo]);
    const lint = await run(['rpmlint', '-r', join(root, 'scripts', 'packaging', 'rpmlintrc'), ...rpms], {
      timeoutMs: 120_000,
    });
    t.match(
      lint.stdout,
      / 0 errors, /,
      lint.stdout
        .split('\n')
        .filter((l) => /E: /.test(l))
        .join('; ') || '0 errors',
    );
    const list = (await run(['rpm', '-qlp', rpm])).stdout.trim().split('\n');
    for (const f of [
      `/usr/sbin/${name}`,
      `/usr/lib/${name}/forkd.node`,
      `/usr/lib/systemd/system/${name}.service`,
      // A .socket unit only for a daemon that listens (forkd.listen).
      ...(pkg.forkd.listen ? [`/usr/lib/systemd/system/${name}.socket`] : []),
      `/etc/init.d/${name}`,
      `/etc/${name}/${name}.toml`,
      `/etc/default/${name}`,
      `/etc/logrotate.d/${name}`,
      `/usr/share/man/man8/${name}.8.gz`,
      `/usr/share/doc/${name}/copyright`,
    ])
      t.ok(list.includes(f), `rpm has ${f}`);
    const configs = (await run(['rpm', '-qcp', rpm])).stdout.trim().split('\n');
    t.ok(configs.includes(`/etc/${name}/${name}.toml`), 'the config file is %config');
    const x = join(dir, 'rpmx');
    mkdirSync(x);
    execFileSync('sh', ['-c', `rpm2cpio "$1" | cpio -idm --quiet`, 'sh', rpm], { cwd: x });
    t.equal(sha(join(x, 'usr/sbin', name)), sha(executablePath), `byte-identical to out/${name}`);
    t.equal(
      sha(join(x, 'usr/lib', name, 'forkd.node')),
      sha(join(root, 'build', 'Release', 'forkd.node')),
      'the addon is the one the executable carries',
    );
    const v = await run([join(x, 'usr/sbin', name), '--version']);
    t.equal(v.stdout, `${name} ${version}\n`, 'and it runs');
  });

  t.test('tarball: the same tree under one directory, with the executable intact', async (t) => {
    const list = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    const base = `${name}-${version}-linux-x64/`;
    t.ok(
      list.every((l) => l.startsWith(base)),
      'one top directory',
    );
    for (const f of [`usr/sbin/${name}`, `lib/systemd/system/${name}.service`, `etc/${name}/${name}.toml`, 'INSTALL'])
      t.ok(list.includes(base + f), f);
    const x = join(dir, 'tarx');
    mkdirSync(x);
    execFileSync('tar', ['-xzf', tarball, '-C', x]);
    t.equal(sha(join(x, base, 'usr/sbin', name)), sha(executablePath));
  });

  const others = foreignExecutables().length ? false : 'package.json forkd.arches names none but the host';
  t.test('every architecture: its name in the metadata, and out/ARCH/NAME inside', { skip: others }, async (t) => {
    for (const exe of foreignExecutables()) {
      const p = built.byArch[exe.arch];
      const debArch = execFileSync('dpkg-deb', ['-f', p.deb, 'Architecture'], { encoding: 'utf8' }).trim();
      t.equal(debArch, exe.arch === 'arm64' ? 'arm64' : debArch, `${basename(p.deb)}: Architecture ${debArch}`);
      const rpmArch = execFileSync('rpm', ['-qp', '--qf', '%{ARCH}', p.rpm], { encoding: 'utf8' });
      t.equal(rpmArch, exe.arch === 'arm64' ? 'aarch64' : rpmArch, `${basename(p.rpm)}: ${rpmArch}`);
      const inDeb = execFileSync(
        'sh',
        ['-c', `dpkg-deb --fsys-tarfile "$1" | tar -xO ./usr/sbin/${name}`, 'sh', p.deb],
        {
          maxBuffer: 1 << 30,
        },
      );
      t.equal(sha256(inDeb), sha(exe.path), `the .deb holds out/${exe.arch}/${name}`);
      const top = `${name}-${version}-linux-${exe.arch}/`;
      const inTar = execFileSync('tar', ['-xzOf', p.tarball, `${top}usr/sbin/${name}`], { maxBuffer: 1 << 30 });
      t.equal(sha256(inTar), sha(exe.path), `and so does ${basename(p.tarball)}`);
    }
  });

  t.test(
    'debug packages: the symbols by build-id; eu-stack symbolizes a core of the stripped executable',
    async (t) => {
      const x = join(dir, 'dbgsym');
      execFileSync('dpkg-deb', ['-x', dbgsym, x]);
      const debugFiles = execFileSync('find', [join(x, 'usr/lib/debug'), '-type', 'f'], { encoding: 'utf8' })
        .trim()
        .split('\n');
      const id = buildId(executablePath);
      const path = `/usr/lib/debug/.build-id/${id.slice(0, 2)}/${id.slice(2)}.debug`;
      t.same(debugFiles, [join(x, path)], `the -dbgsym .deb holds ${path}, named by the executable's build-id`);
      t.ok(
        (await run(['rpm', '-qlp', debuginfo])).stdout.split('\n').includes(path),
        'and so does the -debuginfo .rpm',
      );
      t.equal(buildId(join(x, path)), id, 'the debug file carries the same build-id');

      // A core of the running daemon (gdb's gcore: the host's core_pattern is left alone), read by
      // eu-stack without and with the package's symbols.
      const daemon = spawnClean([executablePath, '--foreground', '--listen', '127.0.0.1:0'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      t.teardown(() => daemon.kill('SIGKILL'));
      let err = '';
      daemon.stderr!.on('data', (b: Buffer) => (err += b));
      await waitFor('the daemon to serve', () => err.includes('listening on'));
      const core = join(dir, 'core');
      const g = await run(['gcore', '-o', core, String(daemon.pid)], { timeoutMs: 120_000 });
      t.equal(g.code, 0, `gcore: ${g.err}`);
      daemon.kill('SIGKILL');
      const stack = (debugDir: string) =>
        run(['eu-stack', `--core=${core}.${daemon.pid}`, '-e', executablePath, `--debuginfo-path=${debugDir}`, '-s'], {
          timeoutMs: 300_000,
        });
      const bare = await stack(join(dir, 'none'));
      const symbolized = await stack(join(x, 'usr/lib/debug'));
      rmSync(`${core}.${daemon.pid}`, { force: true }); // over a gigabyte: V8's reservations
      // uv__io_poll is a local symbol: only the debug file names it, with its source line.
      t.notMatch(bare.stdout, /uv__io_poll/, 'without the debug package: the main thread has an unnamed frame');
      t.match(
        symbolized.stdout,
        /uv__io_poll\n\s+\.\.\/deps\/uv\/src\/unix\/linux\.c:\d+/,
        'with it: named, with its source line',
      );
      t.match(symbolized.stdout, /node::Start\(int, char\*\*\)/);
      t.comment(
        `eu-stack with ${basename(dbgsym)}, main thread:\n${symbolized.stdout
          .split(/\n(?=TID )/)
          .slice(0, 2)
          .join('\n')
          .trim()}`,
      );
    },
  );
});
