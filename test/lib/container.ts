// Real hosts for the package tests: Debian booted with systemd as PID 1 under systemd-nspawn.
//
// The root file system is built once per suite with mmdebstrap from the Debian mirror this host's
// apt already uses, and cached outside the clone (FORKD_TEST_CACHE, default /var/cache/forkd-test)
// under a name keyed by the suite and the package list. Builders hold a lock; a tree is used only
// once its ".ok" marker exists, so a half-built one never is. Each container boots on a
// throw-away overlay of the cached tree (--volatile=overlay), with its own network namespace
// (only lo: nothing it serves reaches the host), then /run and /tmp are made noexec as on a real
// Debian boot (initramfs-tools mounts /run noexec) and on hardened hosts.
//
// This host has no systemd as PID 1 and no D-Bus, so nspawn runs with --register=no --keep-unit
// in a cgroup of its own that the harness creates (and removes), in every hierarchy nspawn uses.
// stop() powers the container off, kills what is left, removes its cgroups, nspawn's propagation
// directory and the run directory: nothing stays behind, also when the test failed. A run whose
// test process died (SIGKILL skips teardowns) is reaped by the next boot().
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, type Ran, run } from './proc';

/** The suites the package tests boot, with the systemd version each ships. */
export const suites = { bookworm: 252, trixie: 257 } as const;
export type Suite = keyof typeof suites;

/**
 * What the root file system holds beyond minbase: systemd as init with D-Bus, what the package
 * depends on, what the tests drive (curl, ps/pgrep, ss), the SysV init functions, and rpm for the
 * .rpm's scriptlets.
 */
export const packages = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'adduser',
  'init-system-helpers',
  'sysvinit-utils',
  'procps',
  'psmisc',
  'curl',
  'iproute2',
  'libstdc++6',
  'libgcc-s1',
  'rpm',
];

/**
 * Another architecture's tree, where dpkg and every maintainer script run under qemu-user: what
 * its .deb needs and its test drives, without rpm, psmisc, iproute2 and sysvinit-utils (134
 * packages instead of 165; mmdebstrap takes about 5 minutes instead of 10).
 */
export const emulatedPackages = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'adduser',
  'init-system-helpers',
  'procps',
  'curl',
  'libstdc++6',
  'libgcc-s1',
];

export const cacheDir = process.env.FORKD_TEST_CACHE ?? '/var/cache/forkd-test';

/** Host programs the harness needs, with the Debian package of each. */
export const hostTools: [string, string][] = [
  ['systemd-nspawn', 'systemd-container'],
  ['mmdebstrap', 'mmdebstrap'],
  ['nsenter', 'util-linux'],
  ['flock', 'util-linux'],
];

const innerPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const innerEnv = [
  `PATH=${innerPath}`,
  'HOME=/root',
  'LANG=C.UTF-8',
  'TERM=dumb',
  'SYSTEMD_PAGER=',
  'SYSTEMD_COLORS=0',
  'DEBIAN_FRONTEND=noninteractive',
];

/** The first ".../debian" URI among this host's apt sources (deb822 or one-line), or FORKD_TEST_MIRROR. */
export function hostMirror(): string | undefined {
  if (process.env.FORKD_TEST_MIRROR) return process.env.FORKD_TEST_MIRROR;
  const uris: string[] = [];
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  const dir = '/etc/apt/sources.list.d';
  const files = existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)) : [];
  for (const f of files.filter((f) => f.endsWith('.sources')))
    for (const m of read(f).matchAll(/^URIs:\s*(.+)$/gm)) uris.push(...m[1].trim().split(/\s+/));
  for (const f of ['/etc/apt/sources.list', ...files.filter((f) => f.endsWith('.list'))])
    for (const m of read(f).matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/gm)) uris.push(m[1]);
  return uris.find((u) => /\/debian\/?$/.test(u));
}

/** Why containers cannot run here, or undefined. */
export function unavailable(): string | undefined {
  if (process.getuid!() !== 0) return 'boots containers: needs root';
  const missing = hostTools.filter(([cmd]) => !innerPath.split(':').some((d) => existsSync(join(d, cmd))));
  if (missing.length)
    return `missing ${missing.map(([c]) => c).join(', ')}: apt-get install ${[...new Set(missing.map(([, p]) => p))].join(' ')}`;
  return undefined;
}

const archTable = require('../../scripts/arch') as { arches: Record<string, { deb: string }>; hostArch: string };
/** The host's Debian architecture (dpkg's name). */
export const hostDebArch = archTable.arches[archTable.hostArch].deb;

/**
 * The cached root file system of suite, built on first use (about 30 s), as a directory. Safe to
 * call from concurrent test runs: one builds while the others wait on its lock. debArch (dpkg's
 * name) other than the host's gives another architecture's Debian, from the same mirror: its
 * maintainer scripts, and later everything in the container, run under qemu-user through
 * binfmt_misc (an entry with the F flag, so the emulator need not be inside the tree), and it
 * holds emulatedPackages instead of packages. extra: more Debian packages (a tree of its own).
 */
export async function rootfs(suite: Suite, debArch = hostDebArch, extra: string[] = []): Promise<string> {
  const foreign = debArch !== hostDebArch;
  const include = [...(foreign ? emulatedPackages : packages), ...extra];
  const key = createHash('sha256')
    .update(`${suite}\n${include.join(',')}\nminbase\n${foreign ? `${debArch}\n` : ''}`)
    .digest('hex')
    .slice(0, 12);
  const base = join(cacheDir, `rootfs-${suite}-${foreign ? `${debArch}-` : ''}${key}`);
  if (existsSync(`${base}.ok`)) return base;
  const mirror = hostMirror();
  if (!mirror) throw new Error('no Debian mirror in /etc/apt/sources*: set FORKD_TEST_MIRROR to one');
  mkdirSync(cacheDir, { recursive: true, mode: 0o755 });
  // Under the lock: the tarball, then the tree, each under a temporary name renamed when whole.
  const build = `set -e
base=$1 suite=$2 mirror=$3 include=$4 arch=$5
[ -e "$base.ok" ] && exit 0
if [ ! -f "$base.tar" ]; then
  rm -f "$base.tar.part"
  mmdebstrap --quiet --format=tar --variant=minbase --architectures="$arch" --include="$include" "$suite" "$base.tar.part" "$mirror" >"$base.log" 2>&1 ||
    { tail -n 20 "$base.log" >&2; exit 1; }
  mv "$base.tar.part" "$base.tar"
fi
rm -rf "$base" "$base.part"
mkdir "$base.part"
tar -C "$base.part" -xf "$base.tar"
: >"$base.part/etc/machine-id"   # empty: each boot gets a fresh transient id
mv "$base.part" "$base"
touch "$base.ok"`;
  const r = await run(
    ['flock', `${base}.lock`, 'sh', '-c', build, 'sh', base, suite, mirror, include.join(','), debArch],
    { timeoutMs: (foreign ? 30 : 15) * 60_000 },
  );
  if (r.code !== 0)
    throw new Error(
      `cannot build the ${suite} ${debArch} root file system with mmdebstrap from ${mirror} (see ${base}.log): ${r.err.trim()}`,
    );
  return base;
}

/** Where nspawn (--keep-unit) makes its sub-cgroups: ours in name=systemd and cgroup2 (hybrid host), or cgroup2 alone. */
function cgroupRoots(): string[] {
  const cgroup2 = 0x63677270;
  const fsType = (p: string) => {
    try {
      return statfsSync(p).type;
    } catch {
      return 0;
    }
  };
  if (fsType('/sys/fs/cgroup') === cgroup2) return ['/sys/fs/cgroup'];
  return ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified'].filter((p) =>
    p.endsWith('systemd') ? existsSync(p) : fsType(p) === cgroup2,
  );
}

function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(join(dir, e.name));
  try {
    rmdirSync(dir);
  } catch {
    // still populated: the caller reports it
  }
}

const runPrefix = 'forkd-container-';

/** Containers not yet stopped; killed at exit if a teardown never ran. */
const live = new Set<Container>();
process.once('exit', () => {
  for (const c of live) c.stopNow();
});

export interface ExecOptions {
  timeoutMs?: number;
  env?: Record<string, string>;
}

export class Container {
  /** Pid (on the host) of the container's PID 1, systemd. */
  init = 0;
  private nspawn: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  private constructor(
    readonly name: string,
    readonly suite: Suite,
    /** The run directory on the host: nspawn's log, the owner's pid. */
    readonly runDir: string,
    readonly cgroups: string[],
  ) {}

  /**
   * Boots suite with systemd as PID 1 and waits until it is running. binds: host directories
   * mounted read-only in the container ({ '/host/dir': '/guest/dir' }). debArch: another
   * architecture's Debian (rootfs), whose every program, systemd included, runs under qemu-user
   * (it boots in seconds all the same: 4 s here). extra: more Debian packages in the tree.
   * Registers the teardown.
   */
  static async boot(
    t: { teardown(fn: () => Promise<void> | void): void },
    suite: Suite,
    opts: {
      binds?: Record<string, string>;
      noexec?: boolean;
      bootTimeoutMs?: number;
      debArch?: string;
      extra?: string[];
    } = {},
  ): Promise<Container> {
    reapStale();
    const debArch = opts.debArch ?? hostDebArch;
    const tree = await rootfs(suite, debArch, opts.extra);
    const runDir = mkdtempSync(join(tmpdir(), runPrefix));
    const name = `forkd-${suite}-${randomBytes(4).toString('hex')}`;
    writeFileSync(join(runDir, 'owner.pid'), String(process.pid));
    const cgroups = cgroupRoots().map((r) => join(r, name));
    writeFileSync(join(runDir, 'state.json'), JSON.stringify({ name, cgroups }));
    const c = new Container(name, suite, runDir, cgroups);
    live.add(c);
    t.teardown(() => c.stop());
    for (const cg of cgroups) mkdirSync(cg);
    const binds = Object.entries(opts.binds ?? {}).map(([host, guest]) => `--bind-ro=${host}:${guest}`);
    const log = openSync(join(runDir, 'nspawn.log'), 'w');
    // The shell moves itself into the new cgroups, then becomes nspawn. SYSTEMD_NSPAWN_LOCK=0:
    // several containers may share the read-only lower tree.
    c.nspawn = spawn(
      'sh',
      [
        '-c',
        'for cg in $FORKD_CGROUPS; do echo $$ >"$cg/cgroup.procs"; done; exec "$@"',
        'sh',
        'env',
        'SYSTEMD_NSPAWN_LOCK=0',
        'systemd-nspawn',
        '--quiet',
        '-D',
        tree,
        '--volatile=overlay',
        '-M',
        name,
        '-b',
        '--register=no',
        '--keep-unit',
        '--private-network',
        '--console=passive',
        ...binds,
      ],
      { stdio: ['ignore', log, log], env: { PATH: innerPath, FORKD_CGROUPS: cgroups.join(' ') } },
    );
    closeSync(log);
    writeFileSync(join(runDir, 'nspawn.pid'), String(c.nspawn.pid));
    c.exited = new Promise((done) => c.nspawn!.once('exit', () => done()));
    let gone = false;
    void c.exited.then(() => (gone = true));
    const deadline = Date.now() + (opts.bootTimeoutMs ?? (debArch === hostDebArch ? 90_000 : 300_000));
    const nspawnLog = () => readFileSync(join(runDir, 'nspawn.log'), 'utf8').trim().split('\n').slice(-15).join('\n');
    for (;;) {
      if (gone) throw new Error(`systemd-nspawn exited during boot:\n${nspawnLog()}`);
      if (!c.init) {
        c.init = childrenOf(c.nspawn.pid!).find((p) => comm(p) === 'systemd') ?? 0;
        if (c.init) writeFileSync(join(runDir, 'init.pid'), String(c.init));
      }
      if (c.init && (await c.run(['test', '-S', '/run/systemd/private'])).code === 0) break;
      if (Date.now() > deadline) throw new Error(`the ${suite} container did not boot in time:\n${nspawnLog()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const state = await c.run(['systemctl', 'is-system-running', '--wait'], {
      timeoutMs: Math.max(deadline - Date.now(), 5000),
    });
    if (!/^(running|degraded)/.test(state.stdout)) {
      const failed = await c.run(['systemctl', '--failed', '--no-pager', '--plain']);
      throw new Error(`the ${suite} container is "${state.stdout.trim() || 'not up'}":\n${failed.stdout}`);
    }
    if (opts.noexec !== false) {
      // /run as Debian's initramfs mounts it; /tmp as a hardened host does (a tmpfs if it is none).
      await c.sh(
        'mount -o remount,noexec /run\nif mountpoint -q /tmp; then mount -o remount,noexec /tmp; else mount -t tmpfs -o mode=1777,nosuid,nodev,noexec tmpfs /tmp; fi',
      );
    }
    return c;
  }

  /** Runs argv in the container (all its namespaces, a clean root environment). */
  run(argv: string[], opts: ExecOptions = {}): Promise<Ran> {
    const env = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
    return run(['nsenter', '-t', String(this.init), '-a', 'env', '-i', ...innerEnv, ...env, ...argv], {
      timeoutMs: opts.timeoutMs ?? 120_000,
    });
  }

  /** Runs a bash script (with -e) in the container; throws with its output unless it exits 0. */
  async sh(script: string, opts: ExecOptions = {}): Promise<string> {
    const r = await this.try(script, opts);
    if (r.code !== 0)
      throw new Error(
        `in the ${this.suite} container, exit ${r.code ?? r.signal}: ${script.split('\n')[0]}...\n${r.stdout}${r.err}`,
      );
    return r.stdout;
  }

  /** Runs a bash script (with -e) in the container and returns how it went. */
  try(script: string, opts: ExecOptions = {}): Promise<Ran> {
    return this.run(['bash', '-ec', script], opts);
  }

  /** The container's journal since boot (for failure reports). */
  async journal(lines = 200): Promise<string> {
    return (await this.run(['journalctl', '-b', '--no-pager', '-o', 'short-monotonic', '-n', String(lines)])).stdout;
  }

  /** Powers off (SIGTERM to nspawn), kills what is left, removes cgroups and the run directory. */
  async stop(): Promise<void> {
    const nspawn = this.nspawn;
    if (nspawn && nspawn.exitCode === null && nspawn.signalCode === null) {
      nspawn.kill('SIGTERM'); // nspawn turns it into a clean poweroff (SIGRTMIN+3 to PID 1)
      const timeout = new Promise<void>((r) => setTimeout(r, 15_000).unref());
      await Promise.race([this.exited, timeout]);
      if (nspawn.exitCode === null && nspawn.signalCode === null) {
        killPid(this.init); // PID 1 of the pid namespace: every process in it dies with it
        await new Promise((r) => setTimeout(r, 300));
        nspawn.kill('SIGKILL');
        await this.exited;
      }
    }
    this.stopNow();
  }

  /** The synchronous part of stop(), also run at process exit. */
  stopNow(): void {
    if (this.nspawn && this.nspawn.exitCode === null && this.nspawn.signalCode === null) {
      killPid(this.init);
      this.nspawn.kill('SIGKILL');
    }
    cleanUp(this.runDir, this.name, this.cgroups);
    live.delete(this);
  }
}

function killPid(pid: number): void {
  try {
    if (pid) process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** Pids in the cgroup tree dir (any depth). */
function cgroupPids(dir: string): number[] {
  if (!existsSync(dir)) return [];
  const pids: number[] = [];
  try {
    pids.push(...readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number));
    for (const e of readdirSync(dir, { withFileTypes: true }))
      if (e.isDirectory()) pids.push(...cgroupPids(join(dir, e.name)));
  } catch {
    // removed meanwhile
  }
  return pids;
}

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Kills whatever is left in the container's cgroups, waits until they are empty (10 s at most), removes them. */
function cleanUp(runDir: string, name: string, cgroups: string[]): void {
  for (let i = 0; i < 200; i++) {
    const left = cgroups.flatMap(cgroupPids);
    if (!left.length) break;
    left.forEach(killPid);
    pause(50);
  }
  for (const cg of cgroups) removeTree(cg);
  rmSync(`/run/systemd/nspawn/propagate/${name}`, { recursive: true, force: true });
  rmSync(runDir, { recursive: true, force: true });
}

/** Tears down the runs of test processes that died without their teardown. */
function reapStale(): void {
  for (const entry of readdirSync(tmpdir()).filter((e) => e.startsWith(runPrefix))) {
    const dir = join(tmpdir(), entry);
    try {
      const owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8'));
      if (alive(owner)) continue;
      const { name, cgroups } = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as {
        name: string;
        cgroups: string[];
      };
      for (const f of ['init.pid', 'nspawn.pid'])
        if (existsSync(join(dir, f))) killPid(Number(readFileSync(join(dir, f), 'utf8')));
      cleanUp(dir, name, cgroups);
    } catch {
      // half-written by a run that is starting now, or already reaped
    }
  }
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

function childrenOf(ppid: number): number[] {
  const kids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) kids.push(Number(e));
    } catch {
      // gone
    }
  }
  return kids;
}

/** Live processes (not zombies) whose cgroup (any hierarchy) mentions name: what a container left behind. */
export function processesInCgroup(name: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cgroup`, 'utf8').includes(`/${name}`) && alive(Number(e))) pids.push(Number(e));
    } catch {
      // gone
    }
  }
  return pids;
}
