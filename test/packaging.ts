// The packages: built from one description, linted, installed on this machine, run, upgraded,
// removed and purged. dpkg and the init script run in a private mount namespace that looks like
// a SysV host (runlevel 2, services allowed to start); the machine is left as it was found.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, realpathSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { executablePath } from './lib/launchers';
import { alive, get, hostLock, portFree, root, run, tempDir, waitFor } from './lib/proc';

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const name: string = pkg.forkd.name;
const user: string = pkg.forkd.user;
const version: string = pkg.version;
const next = version.replace(/(\d+)$/, (n) => String(Number(n) + 1));
const port = Number(pkg.forkd.listen.split(':').pop());
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

const isRoot = process.getuid!() === 0;
const installed = () => run(['dpkg-query', '-W', '-f', '${Status}', name]).then((r) => r.stdout.includes('install ok installed'));

t.test('packages', { skip: !isRoot && 'installs packages: needs root' }, async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'out');
  const env = { SOURCE_DATE_EPOCH: '1700000000' };
  const build = async (args: string[], script = 'package.js') => {
    const r = await run([process.execPath, join(root, 'scripts', script), '--out', out, ...args], { env, timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`${script} ${args.join(' ')}: ${r.err}`);
    return r.stdout.trim().split('\n');
  };
  const [deb, rpm, tarball] = await build([]);
  t.equal(deb, join(out, `${name}_${version}_amd64.deb`));
  t.equal(rpm, join(out, `${name}-${version}-1.x86_64.rpm`));
  t.equal(tarball, join(out, `${name}-${version}-linux-x64.tar.gz`));
  const exeSize = readFileSync(executablePath).length;
  t.comment(`sizes: executable ${exeSize}, .deb ${readFileSync(deb).length}, .rpm ${readFileSync(rpm).length}, .tar.gz ${readFileSync(tarball).length}`);

  t.test('reproducible: the same SOURCE_DATE_EPOCH gives the same bytes', async (t) => {
    const again = join(dir, 'again');
    const r = await run([process.execPath, join(root, 'scripts', 'package-deb.js'), '--out', again], { env, timeoutMs: 300_000 });
    t.equal(r.code, 0, r.err);
    t.equal(sha(join(again, `${name}_${version}_amd64.deb`)), sha(deb), '.deb identical');
    const tar = await run([process.execPath, join(root, 'scripts', 'package-tarball.js'), '--out', again], { env, timeoutMs: 300_000 });
    t.equal(tar.code, 0, tar.err);
    t.equal(sha(join(again, `${name}-${version}-linux-x64.tar.gz`)), sha(tarball), 'tarball identical');
  });

  t.test('lintian: 0 errors, 0 warnings; every override says why', async (t) => {
    // lintian leaves an mldbm-elf-* cache file in TMPDIR: keep it in the test's own directory.
    const r = await run(['lintian', '--tag-display-limit', '0', '-I', deb], { timeoutMs: 120_000, env: { TMPDIR: dir } });
    const tags = r.stdout.split('\n').filter((l) => /^[EWI]: /.test(l));
    t.same(tags.filter((l) => /^[EW]: /.test(l)), [], 'no errors or warnings');
    t.same(tags, [], 'not even information tags');
    const x = join(dir, 'x');
    execFileSync('dpkg-deb', ['-x', deb, x]);
    const overrides = readFileSync(join(x, 'usr/share/lintian/overrides', name), 'utf8').split('\n');
    overrides.forEach((line, i) => {
      if (line.startsWith(`${name}: `)) t.ok(overrides.slice(0, i).reverse().find((l) => !l.startsWith(`${name}: `))?.startsWith('#'), `commented: ${line}`);
    });
  });

  t.test(`rpmlint: 0 errors; rpm -qlp lists the files; the binary inside is out/${name} and runs`, async (t) => {
    const lint = await run(['rpmlint', '-r', join(root, 'scripts', 'packaging', 'rpmlintrc'), rpm], { timeoutMs: 120_000 });
    t.match(lint.stdout, / 0 errors, /, lint.stdout.split('\n').filter((l) => /E: /.test(l)).join('; ') || '0 errors');
    const list = (await run(['rpm', '-qlp', rpm])).stdout.trim().split('\n');
    for (const f of [`/usr/sbin/${name}`, `/usr/lib/systemd/system/${name}.service`, `/usr/lib/systemd/system/${name}.socket`, `/etc/init.d/${name}`,
      `/etc/${name}/${name}.toml`, `/etc/default/${name}`, `/etc/logrotate.d/${name}`, `/usr/share/man/man8/${name}.8.gz`, `/usr/share/doc/${name}/copyright`])
      t.ok(list.includes(f), `rpm has ${f}`);
    const configs = (await run(['rpm', '-qcp', rpm])).stdout.trim().split('\n');
    t.ok(configs.includes(`/etc/${name}/${name}.toml`), 'the config file is %config');
    const x = join(dir, 'rpmx');
    mkdirSync(x);
    execFileSync('sh', ['-c', `rpm2cpio "$1" | cpio -idm --quiet`, 'sh', rpm], { cwd: x });
    t.equal(sha(join(x, 'usr/sbin', name)), sha(executablePath), `byte-identical to out/${name} (not stripped)`);
    const v = await run([join(x, 'usr/sbin', name), '--version']);
    t.equal(v.stdout, `${name} ${version}\n`, 'and it runs');
  });

  t.test('tarball: the same tree under one directory, with the executable intact', async (t) => {
    const list = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    const base = `${name}-${version}-linux-x64/`;
    t.ok(list.every((l) => l.startsWith(base)), 'one top directory');
    for (const f of [`usr/sbin/${name}`, `lib/systemd/system/${name}.service`, `etc/${name}/${name}.toml`, 'INSTALL']) t.ok(list.includes(base + f), f);
    const x = join(dir, 'tarx');
    mkdirSync(x);
    execFileSync('tar', ['-xzf', tarball, '-C', x]);
    t.equal(sha(join(x, base, 'usr/sbin', name)), sha(executablePath));
  });

  t.test('install, run, reload, upgrade, remove, purge on this machine', async (t) => {
    await hostLock(t, 'host-state'); // dpkg and the packaged config's port
    if (await installed()) throw new Error(`${name} is already installed here; remove it first (dpkg -P ${name})`);
    if (!(await portFree(port))) {
      t.skip(`port ${port} (the packaged config's) is in use on this machine`, () => {});
      return;
    }
    // A SysV host in a private mount namespace: runlevel 2, and a policy-rc.d that allows.
    const sim = join(dir, 'sysv');
    mkdirSync(sim);
    // /sbin/runlevel is systemctl under another name: answer as runlevel, pass the rest on.
    copyFileSync(realpathSync('/sbin/runlevel'), join(sim, 'systemctl'));
    writeFileSync(join(sim, 'runlevel'), `#!/bin/sh\ncase "\${0##*/}" in runlevel) echo "N 2"; exit 0;; esac\nexec ${join(sim, 'systemctl')} "$@"\n`);
    writeFileSync(join(sim, 'policy-rc.d'), '#!/bin/sh\nexit 0\n');
    chmodSync(join(sim, 'runlevel'), 0o755);
    chmodSync(join(sim, 'policy-rc.d'), 0o755);
    const binds = [`mount --bind ${join(sim, 'runlevel')} "$(readlink -f /sbin/runlevel)"`];
    if (existsSync('/usr/sbin/policy-rc.d')) binds.push(`mount --bind ${join(sim, 'policy-rc.d')} /usr/sbin/policy-rc.d`);
    const said = (r: { code: number | null; stdout: string; err: string }, what: string) =>
    r.code === 0 ? what : `${what}: ${r.stdout}${r.err}`;
  const onHost = (...argv: string[]) =>
      run(['unshare', '-m', 'sh', '-c', `${binds.join(' && ')} && exec "$@"`, 'sh', ...argv], { env: { DEBIAN_FRONTEND: 'noninteractive' }, timeoutMs: 120_000 });
    t.teardown(async () => {
      if (await installed()) await onHost('dpkg', '--purge', name);
      const pidFile = pkg.forkd.pidfile as string;
      if (existsSync(pidFile)) await run([executablePath, 'stop', '-p', pidFile]);
    });
    const pidFile = pkg.forkd.pidfile as string;
    const daemonPid = () => Number(readFileSync(pidFile, 'utf8'));

    const install = await onHost('dpkg', '-i', deb);
    t.equal(install.code, 0, said(install, 'dpkg -i'));
    t.notMatch(install.stdout + install.err, /error/i, 'the installation says no error');
    const pw = execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).trim().split(':');
    t.equal(pw[5], '/nonexistent', `system user ${user} with home /nonexistent`);
    t.equal(pw[6], '/usr/sbin/nologin', 'and no login shell');
    t.ok(Number(pw[2]) < 1000, 'a system uid');
    t.ok(existsSync(`/etc/rc2.d/S01${name}`), 'registered with update-rc.d');
    await waitFor('the daemon started by postinst', () => existsSync(pidFile), 5000);
    t.equal((await get(port)).body, `Hello from ${name}!\n`, `postinst started it: serving on ${port}`);
    const status = readFileSync(`/proc/${daemonPid()}/status`, 'utf8');
    t.match(status, new RegExp(`^Uid:\\t${pw[2]}\\t${pw[2]}\\t${pw[2]}\\t${pw[2]}$`, 'm'), `running as ${user}`);

    const verify = await run(['systemd-analyze', 'verify', '--man=no', `/lib/systemd/system/${name}.service`, `/lib/systemd/system/${name}.socket`]);
    t.equal(verify.stdout + verify.err, '', 'systemd-analyze verify prints nothing');

    let r = await onHost(`/etc/init.d/${name}`, 'status');
    t.equal(r.code, 0, 'status: running');
    r = await onHost(`/etc/init.d/${name}`, 'stop');
    t.equal(r.code, 0, said(r, '/etc/init.d stop'));
    t.equal((await onHost(`/etc/init.d/${name}`, 'status')).code, 3, 'status after stop: 3');
    r = await onHost(`/etc/init.d/${name}`, 'start');
    t.equal(r.code, 0, said(r, '/etc/init.d start'));
    t.equal((await get(port)).status, 200, '/etc/init.d start: serving again');
    writeFileSync(`/etc/${name}/${name}.toml`, `listen = "${pkg.forkd.listen}"\ngreeting = "locally modified"\n`);
    r = await onHost(`/etc/init.d/${name}`, 'reload');
    t.equal(r.code, 0, said(r, '/etc/init.d reload'));
    await waitFor('the reload', () => readFileSync(`/var/log/${name}/${name}.log`, 'utf8').includes('reloaded'));
    t.equal((await get(port)).body, 'locally modified\n', 'reload applied the edited config');

    // Upgrade to N+1 with the conffile modified locally.
    const [debNext] = await build(['--version', next], 'package-deb.js');
    const before = daemonPid();
    r = await onHost('dpkg', '-i', '--force-confdef', '--force-confold', debNext);
    t.equal(r.code, 0, said(r, `dpkg -i ${next}`));
    t.notMatch(r.stdout + r.err, /error/i, 'the upgrade says no error');
    t.match((await run(['dpkg-query', '-W', '-f', '${Version}', name])).stdout, next, `upgraded to ${next}`);
    t.equal(readFileSync(`/etc/${name}/${name}.toml`, 'utf8'), `listen = "${pkg.forkd.listen}"\ngreeting = "locally modified"\n`, 'the modified conffile is kept');
    await waitFor('the restarted daemon', () => existsSync(pidFile) && daemonPid() !== before, 5000);
    t.notOk(alive(before), 'the old daemon is gone');
    t.equal((await get(port)).body, 'locally modified\n', 'the restarted daemon serves with the kept config');

    const running = daemonPid();
    r = await onHost('dpkg', '-r', name);
    t.equal(r.code, 0, said(r, 'dpkg -r'));
    t.notOk(alive(running), 'dpkg -r stopped the daemon');
    t.ok(await portFree(port), 'and freed the port');
    t.ok(existsSync(`/etc/${name}/${name}.toml`), 'conffiles stay until purge');

    r = await onHost('dpkg', '-P', name);
    t.equal(r.code, 0, said(r, 'dpkg -P'));
    for (const p of [`/etc/${name}`, `/etc/init.d/${name}`, `/etc/default/${name}`, `/var/log/${name}`, `/var/lib/${name}`, `/run/${name}`, `/usr/sbin/${name}`, `/etc/rc2.d/S01${name}`])
      t.notOk(existsSync(p), `purged: ${p}`);
    t.equal((await run(['getent', 'passwd', user])).code, 2, `user ${user} removed`);
    t.equal((await run(['getent', 'group', user])).code, 2, `group ${user} removed`);
    t.notOk(await installed());
  });
});

