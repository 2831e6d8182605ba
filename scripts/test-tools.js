#!/usr/bin/env node
'use strict';
// The system tools the tests drive, and the Debian package of each. `npm test` runs this first:
// if any is missing it stops at once with one line naming them all and the apt-get command that
// installs them (exit 69), instead of failing deep inside a test. .ci/run installs what
// `--packages` prints. Usage: test-tools.js [--packages]
const { accessSync, constants } = require('node:fs');
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
];

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
if (process.argv.includes('--packages')) {
  if (packages.length) process.stdout.write(`${packages.join(' ')}\n`);
} else if (missing.length) {
  process.stderr.write(
    `npm test: missing ${missing.map(([c]) => c).join(', ')}; install them with: sudo apt-get install ${packages.join(' ')}\n`,
  );
  process.exit(69);
}
