// The packages: built from one description, reproducible, linted, and with the files they should
// hold. Installing, running, upgrading and purging them happens on booted Debian containers
// (test/installed.ts), never on this machine.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import t from 'tap';
import { sha256File as sha } from './lib/hash';
import { name, pkg, version } from './lib/identity';
import { executablePath } from './lib/launchers';
import { buildWith, packages } from './lib/packages';
import { root, run, tempDir } from './lib/proc';

// Building the packages (or waiting for test/installed.ts to) takes minutes on a busy machine.
t.setTimeout(20 * 60_000);

t.test('packages', async (t) => {
  const dir = tempDir(t);
  // Built once for this tree and shared with test/installed.ts (test/lib/packages.ts).
  const { deb, rpm, tarball } = await packages(t);
  t.equal(basename(deb), `${name}_${version}_amd64.deb`);
  t.equal(basename(rpm), `${name}-${version}-1.x86_64.rpm`);
  t.equal(basename(tarball), `${name}-${version}-linux-x64.tar.gz`);
  const exeSize = readFileSync(executablePath).length;
  t.comment(
    `sizes: executable ${exeSize}, .deb ${readFileSync(deb).length}, .rpm ${readFileSync(rpm).length}, .tar.gz ${readFileSync(tarball).length}`,
  );

  t.test('reproducible: the same SOURCE_DATE_EPOCH gives the same bytes', async (t) => {
    const again = join(dir, 'again');
    const [deb2] = await buildWith('package-deb.js', again);
    t.equal(sha(deb2), sha(deb), '.deb identical');
    const [tarball2] = await buildWith('package-tarball.js', again);
    t.equal(sha(tarball2), sha(tarball), 'tarball identical');
  });

  t.test('lintian: 0 errors, 0 warnings; every override says why', async (t) => {
    // lintian leaves an mldbm-elf-* cache file in TMPDIR: keep it in the test's own directory.
    const r = await run(['lintian', '--tag-display-limit', '0', '-I', deb], {
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
    const lint = await run(['rpmlint', '-r', join(root, 'scripts', 'packaging', 'rpmlintrc'), rpm], {
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
    t.equal(sha(join(x, 'usr/sbin', name)), sha(executablePath), `byte-identical to out/${name} (not stripped)`);
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
});
