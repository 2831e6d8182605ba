#!/usr/bin/env node
'use strict';
// npm run repo: signed package repositories, from the packages in out/ (npm run package), for
// hosts to install and upgrade from with apt and dnf/yum. Any static file server can serve DIR:
//   DIR/apt/      dists/SUITE/{InRelease,Release,Release.gpg}, dists/SUITE/main/binary-ARCH/,
//                 pool/main/N/NAME/*.deb (every architecture's .deb and -dbgsym .deb)
//   DIR/yum/      the .rpm files signed with rpmsign, repodata/ with repomd.xml.asc
//   DIR/NAME.asc  the public key a host adds (the secret key is never written under DIR)
// The signing key is the user's: --key ID (a secret key in gpg's keyring: GNUPGHOME, else
// ~/.gnupg) or --key-file FILE (an exported secret key, imported into a temporary keyring that
// is removed afterwards). DIR is built beside itself and renamed into place.
// Usage: repo.js (--key ID | --key-file FILE) [--from DIR] [--out DIR] [--suite NAME]
// Exit: 0 built; 64 usage; 66 no packages, or the key file is missing; 69 a tool is missing;
// 78 the key is not a usable secret key; 1 a tool failed.
const { spawnSync } = require('node:child_process');
const { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } =
  require('node:fs');
const { basename, dirname, join, resolve } = require('node:path');
const { parseArgs } = require('node:util');

const root = resolve(__dirname, '..');
const name = require(join(root, 'package.json')).forkd.name;

class Refused extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

/** Runs a tool; a missing one is exit 69 with the Debian package, a failure says what it said. */
function tool(cmd, args, { apt, input, env, cwd } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, env: env ?? process.env, cwd });
  if (r.error?.code === 'ENOENT') throw new Refused(`${cmd} is not installed; apt-get install ${apt}`, 69);
  if (r.status !== 0) throw new Refused(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`, 1);
  return r.stdout;
}

/** The secret key's fingerprint in the keyring of env, or a one-line refusal naming the key. */
function secretKey(env, id, where) {
  const r = spawnSync('gpg', ['--batch', '--with-colons', '--list-secret-keys', ...(id ? [id] : [])], {
    encoding: 'utf8',
    env,
  });
  if (r.error?.code === 'ENOENT') throw new Refused('gpg is not installed; apt-get install gpg', 69);
  const fprs = [];
  let inSec = false;
  for (const line of r.stdout.split('\n')) {
    const f = line.split(':');
    if (f[0] === 'sec') inSec = true;
    else if (f[0] === 'fpr' && inSec) {
      fprs.push(f[9]);
      inSec = false;
    }
  }
  if (r.status !== 0 || fprs.length === 0)
    throw new Refused(
      `${where} holds no secret key${id ? ` ${id}` : ''}; gpg --list-secret-keys lists those it has`,
      78,
    );
  if (fprs.length > 1) throw new Refused(`${where} holds ${fprs.length} secret keys; name one with --key`, 78);
  return fprs[0];
}

function main(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        key: { type: 'string' },
        'key-file': { type: 'string' },
        from: { type: 'string' },
        out: { type: 'string' },
        suite: { type: 'string' },
      },
    }));
  } catch (e) {
    throw new Refused(`${e.message}; usage: npm run repo -- (--key ID | --key-file FILE) [--out DIR]`, 64);
  }
  if (!values.key === !values['key-file'])
    throw new Refused('give the signing key: --key ID (in your gpg keyring) or --key-file FILE, one of them', 64);
  const from = resolve(values.from || join(root, 'out'));
  const out = resolve(values.out || join(from, 'repo'));
  const suite = values.suite || 'stable';
  if (!/^[a-z0-9][a-z0-9.+-]*$/.test(suite)) throw new Refused(`--suite ${suite}: letters, digits, . + - only`, 64);
  const list = existsSync(from) ? readdirSync(from) : [];
  const debs = list.filter((f) => f.endsWith('.deb'));
  const rpms = list.filter((f) => f.endsWith('.rpm'));
  if (debs.length + rpms.length === 0)
    throw new Refused(`${from} has no .deb or .rpm; run "npm run package" first`, 66);

  const cleanup = [];
  try {
    // The keyring: the user's, or a temporary one holding the key file's key.
    let env = process.env;
    let fpr;
    if (values['key-file']) {
      const file = resolve(values['key-file']);
      if (!existsSync(file)) throw new Refused(`--key-file ${file}: no such file`, 66);
      const home = mkdtempSync(join(require('node:os').tmpdir(), `${name}-repo-gnupg-`));
      cleanup.push(() => {
        spawnSync('gpgconf', ['--kill', 'all'], { env: { ...process.env, GNUPGHOME: home } });
        rmSync(home, { recursive: true, force: true });
      });
      env = { ...process.env, GNUPGHOME: home };
      const r = spawnSync('gpg', ['--batch', '--import', file], { encoding: 'utf8', env });
      if (r.error?.code === 'ENOENT') throw new Refused('gpg is not installed; apt-get install gpg', 69);
      fpr = secretKey(env, undefined, `--key-file ${file}`);
    } else {
      fpr = secretKey(env, values.key, 'the gpg keyring');
    }

    mkdirSync(dirname(out), { recursive: true });
    const stage = mkdtempSync(join(dirname(out), `.${basename(out)}.partial-`));
    cleanup.push(() => rmSync(stage, { recursive: true, force: true }));
    writeFileSync(
      join(stage, `${name}.asc`),
      tool('gpg', ['--batch', '--armor', '--export', fpr], { env, apt: 'gpg' }),
    );
    if (debs.length) aptRepo(join(stage, 'apt'), from, debs, suite, env, fpr);
    if (rpms.length) yumRepo(join(stage, 'yum'), from, rpms, env, fpr);
    rmSync(out, { recursive: true, force: true });
    renameSync(stage, out);
    return out;
  } finally {
    for (const f of cleanup.reverse()) f();
  }
}

/** apt: pool/, then Packages per architecture and the Release, signed inline and detached. */
function aptRepo(dir, from, debs, suite, env, fpr) {
  const pool = join(dir, 'pool', 'main', name[0], name);
  mkdirSync(pool, { recursive: true });
  for (const f of debs) copyFileSync(join(from, f), join(pool, f));
  const arches = [
    ...new Set(debs.map((f) => tool('dpkg-deb', ['-f', join(pool, f), 'Architecture'], { apt: 'dpkg' }).trim())),
  ].sort();
  const dists = join(dir, 'dists', suite);
  for (const arch of arches) {
    const bin = join(dists, 'main', `binary-${arch}`);
    mkdirSync(bin, { recursive: true });
    const packages = tool('apt-ftparchive', ['--arch', arch, 'packages', 'pool'], { cwd: dir, apt: 'apt-utils' });
    writeFileSync(join(bin, 'Packages'), packages);
    writeFileSync(join(bin, 'Packages.gz'), require('node:zlib').gzipSync(packages, { level: 9 }));
  }
  const o = (k, v) => ['-o', `APT::FTPArchive::Release::${k}=${v}`];
  const release = tool(
    'apt-ftparchive',
    [
      ...o('Origin', name),
      ...o('Label', name),
      ...o('Suite', suite),
      ...o('Codename', suite),
      ...o('Architectures', arches.join(' ')),
      ...o('Components', 'main'),
      'release',
      '.',
    ],
    { cwd: dists, apt: 'apt-utils' },
  );
  writeFileSync(join(dists, 'Release'), release);
  const sign = (args) =>
    tool('gpg', ['--batch', '--yes', '--local-user', fpr, '--digest-algo', 'SHA512', ...args], { env, apt: 'gpg' });
  sign(['--clearsign', '--output', join(dists, 'InRelease'), join(dists, 'Release')]);
  sign(['--armor', '--detach-sign', '--output', join(dists, 'Release.gpg'), join(dists, 'Release')]);
}

/** The full path of cmd on PATH (rpm runs gpg by its path). */
function which(cmd) {
  for (const d of (process.env.PATH || '/usr/bin:/bin').split(':'))
    if (d && existsSync(join(d, cmd))) return join(d, cmd);
  throw new Refused(`${cmd} is not installed; apt-get install gpg`, 69);
}

/** yum/dnf: each .rpm signed with rpmsign, then repodata/ and its repomd.xml signed. */
function yumRepo(dir, from, rpms, env, fpr) {
  mkdirSync(dir, { recursive: true });
  for (const f of rpms) copyFileSync(join(from, f), join(dir, f));
  tool(
    'rpmsign',
    [
      '--addsign',
      // Debian's rpm names gpg2, which Debian does not have.
      '--define',
      `__gpg ${which('gpg')}`,
      '--define',
      `_gpg_name ${fpr}`,
      '--define',
      '_gpg_sign_cmd_extra_args --batch',
      ...rpms.map((f) => join(dir, f)),
    ],
    { env, apt: 'rpm' },
  );
  tool('createrepo_c', ['--quiet', '--no-database', dir], { apt: 'createrepo-c' });
  tool(
    'gpg',
    ['--batch', '--yes', '--local-user', fpr, '--armor', '--detach-sign', join(dir, 'repodata', 'repomd.xml')],
    {
      env,
      apt: 'gpg',
    },
  );
}

if (require.main === module) {
  try {
    process.stdout.write(`${main(process.argv.slice(2))}\n`);
  } catch (e) {
    if (!(e instanceof Refused)) throw e;
    process.stderr.write(`repo: ${e.message}\n`);
    process.exit(e.code);
  }
}

module.exports = { main, Refused };
