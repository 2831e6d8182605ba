#!/usr/bin/env node
'use strict';
// The system tools the tests drive, and the Debian package of each. `npm test` runs this first:
// if any is missing it stops at once with one line naming them all and the apt-get command that
// installs them (exit 69), instead of failing deep inside a test. .ci/run installs what
// `--packages` prints, and registers with binfmt_misc the qemu-user emulators that `--binfmt`
// names (the other architectures of package.json forkd.arches run under them).
// Usage: test-tools.js [--packages | --binfmt]
const { accessSync, constants, readFileSync } = require('node:fs');
const { delimiter, join } = require('node:path');

/** [command, Debian package]: the build (native/), a real terminal, tracing, namespaces and
 * privileges (util-linux), a notification socket (python3), systemd's tools, the packaging tools
 * and their linters, and the containers the packages are installed in (systemd-container, mmdebstrap), and
 * clang-format for native/'s format (test/lint.ts). */
const tools = [
  ['cmake', 'cmake'],
  ['g++', 'g++'],
  ['make', 'make'],
  ['tmux', 'tmux'],
  ['strace', 'strace'],
  ['setpriv', 'util-linux'],
  ['prlimit', 'util-linux'],
  ['unshare', 'util-linux'],
  ['nsenter', 'util-linux'],
  ['flock', 'util-linux'],
  ['ip', 'iproute2'],
  ['python3', 'python3'],
  ['systemd-socket-activate', 'systemd'],
  ['systemd-analyze', 'systemd'],
  ['dpkg-deb', 'dpkg'],
  ['rpmbuild', 'rpm'],
  ['rpm2cpio', 'rpm2cpio'],
  ['cpio', 'cpio'],
  ['lintian', 'lintian'],
  ['rpmlint', 'rpmlint'],
  ['groff', 'groff-base'],
  ['systemd-nspawn', 'systemd-container'],
  ['mmdebstrap', 'mmdebstrap'],
  ['clang-format', 'clang-format'],
  // The executable's core and its debug package's symbols (test/packaging.ts).
  ['gcore', 'gdb'],
  ['eu-stack', 'elfutils'],
  // The signed repositories (npm run repo, test/repo.ts).
  ['gpg', 'gpg'],
  ['gpgv', 'gpgv'],
  ['apt-ftparchive', 'apt-utils'],
  ['createrepo_c', 'createrepo-c'],
  ['rpmsign', 'rpm'],
];

// Each other architecture the project ships: its cross compiler (which brings its binutils, to
// strip the base Node, and the sysroot qemu loads the shared libraries from), and qemu-user.
const { arches, hostArch, projectArches } = require('./arch');
const foreign = projectArches().filter((a) => a !== hostArch);
for (const a of foreign)
  tools.push([`${arches[a].gnu}-g++`, `g++-${arches[a].gnu}`], [`${arches[a].qemu}-static`, 'qemu-user-static']);
tools.push([`${arches[hostArch].gnu}-objcopy`, 'binutils']);

/** The qemu-user emulators binfmt_misc must run, and does not: each as its /usr/lib/binfmt.d entry. */
function unregistered() {
  return foreign
    .map((a) => arches[a].qemu)
    .filter((q) => {
      try {
        return !readFileSync(`/proc/sys/fs/binfmt_misc/${q}`, 'utf8').startsWith('enabled');
      } catch {
        return true;
      }
    });
}

function found(cmd) {
  // The sbin directories too: a user's PATH may lack them, and the tests call these by name as root.
  const dirs = [...(process.env.PATH || '').split(delimiter), '/usr/sbin', '/sbin'].filter(Boolean);
  return dirs.some((d) => {
    try {
      accessSync(join(d, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const missing = tools.filter(([cmd]) => !found(cmd));
const packages = [...new Set(missing.map(([, p]) => p))];
const binfmt = unregistered();
if (process.argv.includes('--packages')) {
  if (packages.length) process.stdout.write(`${packages.join(' ')}\n`);
} else if (process.argv.includes('--binfmt')) {
  if (binfmt.length) process.stdout.write(`${binfmt.join(' ')}\n`);
} else if (missing.length) {
  process.stderr.write(
    `npm test: missing ${missing.map(([c]) => c).join(', ')}; install them with: sudo apt-get install ${packages.join(' ')}\n`,
  );
  process.exit(69);
} else if (binfmt.length) {
  process.stderr.write(
    `npm test: binfmt_misc does not run ${binfmt.join(', ')}; register ${binfmt.length > 1 ? 'them' : 'it'} with: sudo .ci/binfmt ${binfmt.join(' ')}\n`,
  );
  process.exit(69);
}
