// What `npm test` must leave unchanged on the machine it runs on: the packaged daemon's user and
// group, its installed files, a dpkg record, the packaged config's fixed port, and binfmt_misc's
// qemu entry. Every install
// happens in containers (test/lib/container.ts); tap's "before" and "after" scripts
// (host-before.ts, host-after.ts) take this snapshot around the whole run and compare.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pkg } from './identity';
import { listenerPids } from './proc';

export interface HostState {
  [what: string]: string;
}

function getent(db: string, key: string): string {
  try {
    return execFileSync('getent', [db, key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'absent';
  }
}

function dpkgStatus(name: string): string {
  try {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format fields
    return execFileSync('dpkg-query', ['-W', '-f', '${Status} ${Version}', name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return 'absent';
  }
}

/** A binfmt_misc entry: its first line (enabled, disabled), or absent. */
function binfmt(name: string): string {
  try {
    return readFileSync(`/proc/sys/fs/binfmt_misc/${name}`, 'utf8').split('\n')[0];
  } catch {
    return 'absent';
  }
}

/** The state that matters, as "what → value" pairs. prefix and port let a test point it elsewhere. */
export function hostState(opts: { prefix?: string; port?: number } = {}): HostState {
  const { name, user } = pkg.forkd;
  const prefix = opts.prefix ?? '';
  // The daemon's default port; without one (a worker), the test daemon's (test/fixtures/daemon/).
  const port = opts.port ?? Number((pkg.forkd.listen ?? '127.0.0.1:8080').split(':').pop());
  const state: HostState = {
    [`user ${user}`]: opts.prefix ? 'absent' : getent('passwd', user),
    [`group ${user}`]: opts.prefix ? 'absent' : getent('group', user),
    [`dpkg ${name}`]: opts.prefix ? 'absent' : dpkgStatus(name),
    [`listening on port ${port}`]: listenerPids(port).length ? 'yes' : 'no',
    // Machine set-up for the other architectures (.ci/binfmt), which no test may change.
    'binfmt_misc qemu-aarch64': binfmt('qemu-aarch64'),
  };
  for (const path of [
    `/etc/${name}`,
    `/etc/default/${name}`,
    `/etc/init.d/${name}`,
    `/etc/logrotate.d/${name}`,
    `/etc/rc2.d/S01${name}`,
    `/lib/systemd/system/${name}.service`,
    `/lib/systemd/system/${name}.socket`,
    `/usr/lib/systemd/system/${name}.service`,
    `/usr/lib/systemd/system/${name}.socket`,
    `/etc/systemd/system/multi-user.target.wants/${name}.service`,
    `/usr/sbin/${name}`,
    `/usr/lib/${name}`,
    `/var/lib/${name}`,
    `/var/log/${name}`,
    `/run/${name}`,
  ])
    state[path] = existsSync(prefix + path) ? 'present' : 'absent';
  return state;
}

/** One line per difference: "what: before → after". */
export function changes(before: HostState, after: HostState): string[] {
  return Object.keys({ ...before, ...after })
    .filter((k) => before[k] !== after[k])
    .map((k) => `${k}: ${before[k] ?? 'unknown'} → ${after[k] ?? 'unknown'}`);
}

/** Where the before script leaves its snapshot for the after script of the same tap run. */
export function snapshotFile(): string {
  return join(require('node:os').tmpdir(), `forkd-host-state-${process.ppid}.json`);
}
