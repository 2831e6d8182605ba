// The signed repositories (scripts/repo.js): the user's key, refused when it is missing or not a
// secret key; what is signed and how it verifies; and apt in a booted Debian container adding
// the repository over loopback HTTP with its key, installing, upgrading with the conffile kept,
// and refusing an unsigned or tampered copy. Every key is a throwaway one in a temporary
// GNUPGHOME: the host's keyring is never read or changed.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import t from 'tap';
import { Container, unavailable } from './lib/container';
import { packages, versionPackages } from './lib/packages';
import { root, run, tempDir, waitFor } from './lib/proc';

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const name: string = pkg.forkd.name;
const version: string = pkg.version;
const next = version.replace(/(\d+)$/, (n) => String(Number(n) + 1));
const config: string = pkg.forkd.config;

t.setTimeout(20 * 60_000);

/**
 * A throwaway signing key in a new GNUPGHOME (its gpg-agent stopped at teardown); secret is the
 * file it is exported to.
 */
function throwawayKey(t: { teardown(fn: () => void): void }, dir: string, uid: string) {
  const home = join(dir, 'gnupg');
  execFileSync('mkdir', ['-m', '700', home]);
  const env = { ...process.env, GNUPGHOME: home };
  t.teardown(() => {
    execFileSync('gpgconf', ['--kill', 'all'], { env });
  });
  execFileSync('gpg', ['--batch', '--quiet', '--passphrase', '', '--quick-gen-key', uid, 'ed25519', 'sign', 'never'], {
    env,
    stdio: 'ignore',
  });
  const secret = join(dir, 'secret.asc');
  writeFileSync(secret, execFileSync('gpg', ['--batch', '--armor', '--export-secret-keys', uid], { env }));
  return { home, env, secret, uid };
}

const repo = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  run([process.execPath, join(root, 'scripts', 'repo.js'), ...args], { env, timeoutMs: 300_000 });

t.test('a missing or wrong key: one line, its exit code, nothing written', async (t) => {
  const dir = tempDir(t);
  const key = throwawayKey(t, dir, 'forkd test <refused@example.org>');
  const from = join(dir, 'from');
  execFileSync('mkdir', [from]);
  writeFileSync(join(from, `${name}_${version}_amd64.deb`), 'not looked at before the key');
  const out = join(dir, 'repo');
  const publicOnly = join(dir, 'public.asc');
  writeFileSync(publicOnly, execFileSync('gpg', ['--armor', '--export', key.uid], { env: key.env }));
  const cases: [string, string[], NodeJS.ProcessEnv, number, RegExp][] = [
    ['no key given', ['--from', from, '--out', out], {}, 64, /^repo: give the signing key: --key ID/],
    [
      'a key id the keyring lacks',
      ['--key', 'nobody@example.org', '--from', from, '--out', out],
      { GNUPGHOME: key.home },
      78,
      /^repo: the gpg keyring holds no secret key nobody@example\.org; gpg --list-secret-keys/,
    ],
    [
      'a key file that is not there',
      ['--key-file', join(dir, 'absent.asc'), '--from', from, '--out', out],
      {},
      66,
      /^repo: --key-file \S+absent\.asc: no such file/,
    ],
    [
      'a key file with a public key only',
      ['--key-file', publicOnly, '--from', from, '--out', out],
      {},
      78,
      /^repo: --key-file \S+public\.asc holds no secret key;/,
    ],
    [
      'no packages',
      ['--key-file', key.secret, '--from', join(dir, 'gnupg'), '--out', out],
      {},
      66,
      /^repo: \S+ has no \.deb or \.rpm; run "npm run package" first/,
    ],
  ];
  for (const [what, args, env, code, message] of cases) {
    const r = await repo(args, env);
    t.equal(r.code, code, `${what}: exit ${code}`);
    t.match(r.err, message, `${what}: ${r.err.trim()}`);
    t.equal(r.err.trim().split('\n').length, 1, `${what}: one line`);
    t.notOk(existsSync(out), `${what}: no repository`);
    t.same(
      readdirSync(dir).filter((f) => f.includes('partial')),
      [],
      `${what}: nothing half-built`,
    );
  }
});

t.test('the repositories: signed with the given key, and the key never written into them', async (t) => {
  const dir = tempDir(t);
  const key = throwawayKey(t, dir, 'forkd test <signing@example.org>');
  const built = await packages(t);
  const out = join(dir, 'repo');
  // The host's own keyring is not used: GNUPGHOME points at an empty directory.
  const empty = join(dir, 'empty');
  execFileSync('mkdir', ['-m', '700', empty]);
  const r = await repo(['--key-file', key.secret, '--from', built.dir, '--out', out], { GNUPGHOME: empty });
  t.equal(r.code, 0, r.err);
  t.same(readdirSync(empty), [], 'nothing was written to the caller’s GNUPGHOME');

  const pub = join(out, `${name}.asc`);
  const packets = execFileSync('gpg', ['--list-packets', pub], { encoding: 'utf8', env: key.env });
  t.notMatch(packets, /secret/, `${name}.asc holds the public key only`);
  const files = (execFileSync('find', [out, '-type', 'f'], { encoding: 'utf8' }) as string).trim().split('\n');
  const secretBody = readFileSync(key.secret, 'utf8').split('\n').slice(2, 6).join('\n');
  t.same(
    files.filter((f) => {
      const b = readFileSync(f);
      return b.includes('PRIVATE KEY BLOCK') || b.includes(secretBody);
    }),
    [],
    'no file of the repository holds the secret key',
  );

  // apt: dists/stable signed inline and detached, for each architecture.
  const dists = join(out, 'apt', 'dists', 'stable');
  const keyring = join(dir, 'keyring.gpg');
  writeFileSync(keyring, execFileSync('gpg', ['--dearmor'], { input: readFileSync(pub) }));
  const inline = await run(['gpgv', '--keyring', keyring, join(dists, 'InRelease')]);
  t.equal(inline.code, 0, `gpgv InRelease: ${inline.err}`);
  const detached = await run(['gpgv', '--keyring', keyring, join(dists, 'Release.gpg'), join(dists, 'Release')]);
  t.equal(detached.code, 0, `gpgv Release.gpg Release: ${detached.err}`);
  const release = readFileSync(join(dists, 'Release'), 'utf8');
  // Every architecture the project builds (package.json forkd.arches).
  const { arches, projectArches } = require('../scripts/arch') as {
    arches: Record<string, { deb: string }>;
    projectArches(): string[];
  };
  const debArches = projectArches()
    .map((a) => arches[a].deb)
    .sort();
  t.match(release, new RegExp(`^Architectures: ${debArches.join(' ')}$`, 'm'));
  for (const a of debArches)
    t.match(readFileSync(join(dists, 'main', `binary-${a}`, 'Packages'), 'utf8'), `Package: ${name}\n`, a);

  // yum: every rpm verifies against the public key alone (a private rpm database).
  const rpmdb = join(dir, 'rpmdb');
  execFileSync('rpm', ['--dbpath', rpmdb, '--initdb']);
  execFileSync('rpm', ['--dbpath', rpmdb, '--import', pub]);
  const rpms = readdirSync(join(out, 'yum')).filter((f) => f.endsWith('.rpm'));
  t.equal(rpms.length, 2 * Object.keys(built.byArch).length, 'each architecture’s .rpm and -debuginfo .rpm');
  for (const f of rpms) {
    const k = await run(['rpm', '--dbpath', rpmdb, '-K', join(out, 'yum', f)]);
    t.match(k.stdout, `${f}: digests signatures OK`, `rpm -K ${f}`);
  }
  const unsigned = await run(['rpm', '--dbpath', rpmdb, '-K', built.rpm]);
  t.notMatch(unsigned.stdout, /signatures OK/, 'the unsigned package from out/ has no signature');
  const lint = await run(['rpmlint', join(out, 'yum', rpms.find((f) => !f.includes('debuginfo'))!)]);
  t.notMatch(lint.stdout, /no-signature/, 'rpmlint: no-signature is gone');
  const repomd = join(out, 'yum', 'repodata', 'repomd.xml');
  t.equal((await run(['gpgv', '--keyring', keyring, `${repomd}.asc`, repomd])).code, 0, 'repomd.xml.asc verifies');
});

/** publish(from): scripts/repo.js over the packages in from into out, signed with the key file secret. */
const publisher = (secret: string, out: string) => async (from: string) => {
  const r = await repo(['--key-file', secret, '--from', from, '--out', out]);
  if (r.code !== 0) throw new Error(r.err);
};

/** A new directory in dir linking every package of built and the next version's file: the next publication. */
function withNext(dir: string, built: string, nextFile: string): string {
  const from = join(dir, 'with-next');
  execFileSync('mkdir', [from]);
  for (const f of readdirSync(built)) symlinkSync(join(built, f), join(from, f));
  symlinkSync(nextFile, join(from, basename(nextFile)));
  return from;
}

/** python3's static file server in the container's network namespace (its loopback). */
async function serve(t: { teardown(fn: () => void): void }, c: Container, dir: string): Promise<number> {
  const server: ChildProcess = spawn(
    'nsenter',
    ['-t', String(c.init), '-n', 'python3', '-m', 'http.server', '--bind', '127.0.0.1', '--directory', dir, '0'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  t.teardown(() => server.kill('SIGKILL'));
  let said = '';
  server.stdout!.on('data', (b: Buffer) => (said += b));
  await waitFor('the HTTP server', () => / port (\d+) /.test(said));
  return Number(/ port (\d+) /.exec(said)![1]);
}

t.test(
  'apt in a booted Debian: add the repository, install, upgrade, refuse tampering',
  { skip: unavailable() },
  async (t) => {
    const started = Date.now();
    const dir = tempDir(t);
    const key = throwawayKey(t, dir, 'forkd test <apt@example.org>');
    const [built, nextBuilt] = await Promise.all([packages(t), versionPackages(t, next)]);
    // Served: good/ (republished with the next version below), unsigned/ and tampered/ copies.
    const served = join(dir, 'served');
    const publish = publisher(key.secret, join(served, 'good'));
    await publish(built.dir);
    cpSync(join(served, 'good'), join(served, 'unsigned'), { recursive: true });
    for (const f of ['InRelease', 'Release.gpg']) rmSync(join(served, 'unsigned', 'apt', 'dists', 'stable', f));
    cpSync(join(served, 'good'), join(served, 'tampered'), { recursive: true });
    const inRelease = join(served, 'tampered', 'apt', 'dists', 'stable', 'InRelease');
    writeFileSync(inRelease, readFileSync(inRelease, 'utf8').replace(/^Label: .*$/m, 'Label: evil'));

    const c = await Container.boot(t, 'bookworm');
    t.teardown(async () => {
      if (!t.passing()) t.comment(`journal:\n${await c.journal(60)}`);
    });
    const port = await serve(t, c, served);
    const q = async (script: string) => (await c.sh(script, { timeoutMs: 300_000 })).trim();
    // The container has no network but its loopback: only this repository is a source.
    await q('rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*; mkdir -p /etc/apt/keyrings');
    // As the README says a host adds it: the key, then the source that names it.
    const add = (which: string) =>
      q(`curl -fsS http://127.0.0.1:${port}/${which}/${name}.asc -o /etc/apt/keyrings/${name}.asc
echo "deb [signed-by=/etc/apt/keyrings/${name}.asc] http://127.0.0.1:${port}/${which}/apt stable main" > /etc/apt/sources.list.d/${name}.list`);

    for (const bad of ['unsigned', 'tampered']) {
      await add(bad);
      const update = await c.try('apt-get update', { timeoutMs: 300_000 });
      t.equal(update.code, 100, `${bad}: apt-get update fails`);
      t.match(
        update.stdout + update.err,
        bad === 'unsigned' ? /is not signed/ : /(BADSIG|signatures were invalid)/,
        `${bad}: ${bad === 'unsigned' ? 'not signed' : 'bad signature'}`,
      );
      const install = await c.try(`DEBIAN_FRONTEND=noninteractive apt-get install -y ${name}`, { timeoutMs: 300_000 });
      t.not(install.code, 0, `${bad}: apt-get install ${name} refuses`);
      t.equal(
        await q(`dpkg-query -W -f '\${Status}' ${name} 2>/dev/null || echo absent`),
        'absent',
        `${bad}: nothing installed`,
      );
    }

    await add('good');
    await q('apt-get update');
    await q(`DEBIAN_FRONTEND=noninteractive apt-get install -y ${name}`);
    t.equal(await q(`systemctl is-active ${name}.service`), 'active', 'apt-get install: active');
    t.equal(await q(`curl -sS --max-time 10 http://${pkg.forkd.listen}/`), `Hello from ${name}!`, 'and serving');
    const before = await q(`systemctl show -P MainPID ${name}.service`);

    await q(`echo '# kept across upgrades' >> ${config}`);
    // The next version is published into the same place; a host just upgrades.
    await publish(withNext(dir, built.dir, nextBuilt.deb));
    await q('apt-get update');
    await q(
      'DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold',
    );
    t.equal(await q(`dpkg-query -W -f '\${Version}' ${name}`), next, `apt-get upgrade: ${next} installed`);
    t.match(await q(`cat ${config}`), /# kept across upgrades\n?$/, 'the changed conffile kept');
    t.equal(await q(`systemctl is-active ${name}.service`), 'active', 'active');
    t.not(await q(`systemctl show -P MainPID ${name}.service`), before, 'restarted on the new version');
    t.equal(await q(`curl -sS --max-time 10 http://${pkg.forkd.listen}/`), `Hello from ${name}!`, 'and serving');
    t.comment(`the repository in a booted container: ${Math.round((Date.now() - started) / 1000)} s`);
  },
);

/**
 * A package for rpm's database, which on Debian is empty, that provides what the .rpm needs from
 * the system (its Requires, but rpmlib's and its own), each checked first to be there from dpkg:
 * a library by its soname in ld.so's cache, a file by its path, a capability by the Debian
 * package or commands that give it. Built on the host with rpmbuild; returns its path.
 */
async function systemProvides(c: Container, rpmFile: string, dir: string): Promise<string> {
  const needs = execFileSync('rpm', ['-qpR', rpmFile], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('rpmlib(') && !l.startsWith(`config(${name})`));
  const capabilities: Record<string, string> = {
    logrotate: "dpkg -s logrotate | grep -qx 'Status: install ok installed'",
    'shadow-utils': 'command -v useradd groupadd',
    'rtld(GNU_HASH)': 'true',
  };
  for (const need of [...new Set(needs)]) {
    const soname = /^([^\s(]+\.so[.\d]*)(\(|$)/.exec(need)?.[1];
    const check = soname
      ? `ldconfig -p | grep -q '^\\s${soname.replace(/\./g, '\\.')} (libc6,'`
      : need.startsWith('/')
        ? `test -e ${need}`
        : capabilities[need];
    if (!check) throw new Error(`the .rpm requires "${need}": this test knows no way to find it on Debian`);
    const r = await c.try(check);
    if (r.code !== 0) throw new Error(`the .rpm requires "${need}", which the container lacks (${check})`);
  }
  const spec = join(dir, 'debian-system.spec');
  writeFileSync(
    spec,
    `Name: debian-system
Version: 1
Release: 1
Summary: What dpkg installed, said to rpm
License: MIT
BuildArch: noarch
${[...new Set(needs)].map((n) => `Provides: ${n}`).join('\n')}
%description
What the Debian system provides, checked by test/repo.ts, for rpm's dependency checks.
%files
`,
  );
  execFileSync('rpmbuild', [
    '-bb',
    '--quiet',
    '--define',
    `_topdir ${join(dir, 'rpmbuild')}`,
    '--define',
    `_rpmdir ${dir}`,
    '--define',
    '_build_name_fmt %{NAME}.rpm',
    spec,
  ]);
  return join(dir, 'debian-system.rpm');
}

t.test(
  "dnf in a booted Debian (Debian's dnf): add the repository, install, upgrade, refuse tampering",
  { skip: unavailable() },
  async (t) => {
    const started = Date.now();
    const dir = tempDir(t);
    const key = throwawayKey(t, dir, 'forkd test <dnf@example.org>');
    const { arches, hostArch } = require('../scripts/arch') as {
      arches: Record<string, { rpm: string }>;
      hostArch: string;
    };
    const rpmArch = arches[hostArch].rpm;
    // The next version's packages (a minute and more of xz, unless another test built them) are
    // made while the first one is tried.
    const nextBuilding = versionPackages(t, next);
    nextBuilding.catch(() => undefined); // awaited below; a failure is reported there
    const built = await packages(t);
    // Served: good/ (republished with the next version below), then a copy whose repomd.xml was
    // changed after signing, and one whose index is signed but whose .rpm is not.
    const served = join(dir, 'served');
    const publish = publisher(key.secret, join(served, 'good'));
    await publish(built.dir);
    cpSync(join(served, 'good'), join(served, 'tampered'), { recursive: true });
    const repomd = join(served, 'tampered', 'yum', 'repodata', 'repomd.xml');
    writeFileSync(
      repomd,
      readFileSync(repomd, 'utf8').replace(
        /<revision>(\d+)<\/revision>/,
        (_, n) => `<revision>${Number(n) + 1}</revision>`,
      ),
    );
    cpSync(join(served, 'good'), join(served, 'unsigned'), { recursive: true });
    const unsignedYum = join(served, 'unsigned', 'yum');
    cpSync(built.rpm, join(unsignedYum, basename(built.rpm)));
    execFileSync('createrepo_c', ['--quiet', '--no-database', unsignedYum]);
    execFileSync('gpg', ['--batch', '--yes', '--armor', '--detach-sign', join(unsignedYum, 'repodata', 'repomd.xml')], {
      env: key.env,
    });

    const c = await Container.boot(t, 'bookworm', { extra: ['dnf', 'logrotate'] });
    t.teardown(async () => {
      if (!t.passing()) t.comment(`journal:\n${await c.journal(60)}`);
    });
    const port = await serve(t, c, served);
    const q = async (script: string) => (await c.sh(script, { timeoutMs: 300_000 })).trim();
    // rpm's database holds nothing on Debian: first a package that says what dpkg installed.
    const provides = await systemProvides(c, built.rpm, tempDir(t));
    await c.sh(`base64 -d > /root/${basename(provides)} <<'EOF'\n${readFileSync(provides).toString('base64')}\nEOF`);
    await q(`rpm -i /root/${basename(provides)}`);
    // As the README says a host adds it. Debian's dnf finds no release version in rpm's
    // database: it is given (it is in no URL here).
    const dnf = (args: string) => c.try(`dnf --releasever=12 -y ${args}`, { timeoutMs: 600_000 });
    const add = (which: string) =>
      q(`printf '%s\\n' '[${name}]' 'name=${name}' 'baseurl=http://127.0.0.1:${port}/${which}/yum' gpgcheck=1 repo_gpgcheck=1 'gpgkey=http://127.0.0.1:${port}/${which}/${name}.asc' > /etc/yum.repos.d/${name}.repo
dnf clean all >/dev/null`);
    await q('mkdir -p /etc/yum.repos.d && rm -f /etc/yum.repos.d/*');

    await add('tampered');
    const tampered = await dnf(`install ${name}`);
    t.not(tampered.code, 0, 'tampered repomd.xml: dnf install fails');
    t.match(
      tampered.stdout + tampered.err,
      /GPG signature verification error|Bad GPG signature|BADSIG/i,
      'a bad signature',
    );
    t.comment(
      `dnf: ${(tampered.stdout + tampered.err).split('\n').find((l) => /verification error|Bad GPG|BADSIG/i.test(l))}`,
    );
    t.equal(await q(`rpm -q ${name} || true`), `package ${name} is not installed`, 'nothing installed');

    await add('unsigned');
    const unsigned = await dnf(`install ${name}`);
    t.not(unsigned.code, 0, 'an unsigned .rpm: dnf install fails');
    t.match(unsigned.stdout + unsigned.err, /is not signed/, 'not signed');
    t.comment(`dnf: ${(unsigned.stdout + unsigned.err).split('\n').find((l) => /is not signed/.test(l))}`);
    t.equal(await q(`rpm -q ${name} || true`), `package ${name} is not installed`, 'nothing installed');

    await add('good');
    const install = await dnf(`install ${name}`);
    t.equal(install.code, 0, `dnf install ${name}: ${install.stdout}${install.err}`);
    t.equal(await q(`rpm -q ${name}`), `${name}-${version}-1.${rpmArch}`, `${name} ${version} installed`);
    t.equal(await q(`systemctl is-active ${name}.service`), 'active', 'active (the %post started it)');
    t.equal(await q(`curl -sS --max-time 10 http://${pkg.forkd.listen}/`), `Hello from ${name}!`, 'and serving');
    t.match(
      await q(`rpm -q gpg-pubkey --qf '%{SUMMARY}\\n'`),
      'forkd test <dnf@example.org>',
      "the repository's key imported",
    );
    const before = await q(`systemctl show -P MainPID ${name}.service`);

    await q(`echo '# kept across upgrades' >> ${config}`);
    const nextBuilt = await nextBuilding;
    await publish(withNext(dir, built.dir, nextBuilt.rpm));
    const upgrade = await dnf('upgrade --refresh');
    t.equal(upgrade.code, 0, `dnf upgrade: ${upgrade.stdout}${upgrade.err}`);
    t.equal(await q(`rpm -q ${name}`), `${name}-${next}-1.${rpmArch}`, `dnf upgrade: ${next} installed`);
    t.match(await q(`cat ${config}`), /# kept across upgrades\n?$/, 'the changed config kept');
    t.equal(await q(`systemctl is-active ${name}.service`), 'active', 'active');
    t.not(await q(`systemctl show -P MainPID ${name}.service`), before, 'restarted on the new version');
    t.equal(await q(`curl -sS --max-time 10 http://${pkg.forkd.listen}/`), `Hello from ${name}!`, 'and serving');
    t.comment(`dnf and the repository in a booted container: ${Math.round((Date.now() - started) / 1000)} s`);
  },
);
