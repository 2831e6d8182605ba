// The one loader of the native addon (native/, built by cmake-js).
import {
  closeSync,
  constants,
  mkdtempSync,
  openSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { getSystemErrorName } from 'node:util';
import { singleExecutable } from './executable';
import { DaemonError, EX } from './exit-codes';

/** How a start-up ended (native/fork_parent.h); the parent says what it means (src/daemon/parent.ts). */
export type ForkParentOutcome = { pid: number } & (
  | { end: 'ready' }
  | { end: 'failed'; step: 'stdio' | 'exec'; errno: number; strerror: string }
  | { end: 'exited'; code: number }
  | { end: 'killed'; signal: number; coreDumped: boolean }
  | { end: 'timeout' }
  | { end: 'cancelled'; signal: number }
);

/** How a restart's successor is started (native/fork_parent.h's restart fields). */
export interface SuccessorPlan {
  /** The executable's path on disk, executed instead of /proc/self/exe. */
  execPath: string;
  /** The successor's command line is this process's, but argv[argc - dropArg] (the word "restart"). */
  dropArg: number;
  /** The old daemon's listening sockets, the successor's LISTEN_FDS. */
  listenFds: number[];
  /** Passed on after the listening sockets, outside LISTEN_FDS (the hand-over connection). */
  extraFds: number[];
  /** "NAME=value" added to the successor's environment. */
  env: string;
}

/** Said while the parent waits, before it happens: not ready in time, or SIGKILL after SIGTERM. */
export type ForkParentEvent = 'timeout' | 'kill-after-grace' | 'kill-on-cancel';

export interface NativeAddon {
  /** The environment variable that marks the re-executed daemon image. */
  readyMarker: string;
  /** The real-time signals' range (SIGRTMIN, SIGRTMAX), which node:os does not give. */
  sigrtmin: number;
  sigrtmax: number;
  /**
   * failureExit: the child's exit code when its set-up or execve fails; restart: start a
   * successor instead (src/daemon/restart.ts). Throws when no child started.
   */
  forkParent(
    readyTimeoutMs: number,
    stopGraceMs: number,
    failureExit: number,
    onEvent: (event: ForkParentEvent) => void,
    restart?: SuccessorPlan,
  ): ForkParentOutcome;
  /** The restart command's end of the hand-over (native/handover.h), bound before it asks the daemon. */
  handoverListen(daemonPid: number): number;
  /** Waits for the daemon pid to connect: its answer (G given, F foreground, B busy) and sockets. */
  handoverAccept(
    listenFd: number,
    daemonPid: number,
    timeoutMs: number,
  ): { conn: number; answer: string; fds: number[] };
  /** The daemon's end: connects, checks the peer is root or its user, sends; the connection's fd. */
  handoverGive(answer: string, fds: number[]): number;
  /** This process's listening stream sockets, in fd order. */
  listeningFds(): number[];
  /** A restart's successor: its pid file, written and locked, unnamed until pidfileTakeOver. */
  pidfilePrepareSuccessor(path: string, pid: number): number;
  /** Renames the prepared pid file over path (the old daemon's). */
  pidfileTakeOver(fd: number, path: string): void;
  claimReadyChannel(fd: number): void;
  signalReady(fd: number): void;
  pidfileAcquire(path: string, pid: number): number;
  /** locked: a process holds the lock; pid: the number in the file (0 if none); holder: the lock's owner (0 if unknown). */
  pidfileProbe(path: string): { locked: boolean; pid: number; holder: number };
  /** Removes the pid file if it is unlocked and names pid (a child that died); true if removed. */
  pidfileRemoveStale(path: string, pid: number): boolean;
  pidfileRelease(fd: number, path: string): void;
  /** Appends to path under safe_open's rule; uid -1 keeps the owner of a file it creates. */
  openLog(path: string, uid: number, gid: number): number;
  dup2(from: number, to: number): void;
  notify(socketPath: string, state: string, fds?: number[]): void;
  /** Returns once the manager has handled the notifications sent before (BARRIER=1). */
  notifyBarrier(socketPath: string, timeoutMs: number): void;
  /** Starts the relay of stdout and stderr lines to syslog (native/syslog_relay.h); its pipes' write ends. */
  syslogRelay(ident: string, socketPath: string): { out: number; err: number };
  monotonicUsec(): bigint;
  lookupUser(name: string): { uid: number; gid: number };
  lookupGroup(name: string): number;
  dropPrivileges(user: string, uid: number, gid: number): void;
  setCloexec(fd: number): void;
  /** prctl(PR_SET_NAME): the process name (/proc/PID/comm) that ps, pgrep -x and killall match. */
  setProcessName(name: string): void;
}

const builtAt = '../../build/Release/forkd.node';

/** The addon's name among the single executable's assets (scripts/build-executable.js). */
export const addonAsset = 'forkd.node';

function load(): NativeAddon {
  if (singleExecutable()) return loadEmbeddedAddon<NativeAddon>(addonAsset);
  try {
    // A literal path, so that bundlers can see the addon (the executable carries it as an asset).
    return require('../../build/Release/forkd.node') as NativeAddon;
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new DaemonError(`cannot load the native addon (tried ${builtAt}): ${why}; run "npm run build"`, EX.SOFTWARE);
  }
}

const embedded = new Map<string, unknown>();

/**
 * Loads the native addon the single executable carries as its asset `key`: forkd's own
 * ("forkd.node"), or one of a dependency, which scripts/build-executable.js embeds under its
 * path in the project ("node_modules/better-sqlite3/build/Release/better_sqlite3.node") and
 * loads through here in place of `bindings`, `node-gyp-build` or a `require` of the file. Each
 * key is loaded once, from the first place that works (see candidates()).
 */
export function loadEmbeddedAddon<T>(key: string): T {
  if (!embedded.has(key)) {
    const sea = singleExecutable();
    if (!sea) throw new Error(`loadEmbeddedAddon(${key}) works only in the single executable`);
    embedded.set(key, loadFromExecutable(key, Buffer.from(sea.getRawAsset(key))));
  }
  return embedded.get(key) as T;
}

/**
 * Where the single executable loads its addon from, in this order (the first that works wins):
 *
 * 1. the installed copy, PREFIX/lib/NAME/forkd.node beside PREFIX/sbin/NAME (the packages put
 *    it in /usr/lib/NAME/), used only if it holds exactly the executable's own bytes and it and
 *    every directory above it are root-owned and writable by no group or other user: it works
 *    whatever /run and /tmp allow, under ProtectSystem=strict and PrivateTmp=yes too;
 * 2. the service manager's $RUNTIME_DIRECTORY, 3. $TMPDIR (else /tmp), 4. /dev/shm: the bytes
 *    go to an unnamed O_TMPFILE there (no name anyone could open or replace, gone when closed)
 *    and are loaded through /proc/self/fd; where the file system has no O_TMPFILE, into a fresh
 *    0700 directory, removed at once. A directory others may write without the sticky bit is
 *    skipped, and so is one mounted noexec.
 *
 * When all fail, the error lists each place tried and why. (memfd_create would need no mount,
 * but creating one takes native code, which is this addon: later addons may use it.)
 */
function candidates(): { dir: string; how: string; installed?: boolean }[] {
  const exe = process.execPath;
  const list: { dir: string; how: string; installed?: boolean }[] = [
    { dir: join(dirname(dirname(exe)), 'lib', basename(exe)), how: 'installed copy', installed: true },
    ...temporaryDirectories(),
  ];
  return list.filter((c, i) => list.findIndex((o) => o.dir === c.dir) === i);
}

/**
 * Where the executable may put what it carries for the time it runs, in order: the service
 * manager's $RUNTIME_DIRECTORY, $TMPDIR (else /tmp), /dev/shm. Worker files use them too
 * (src/daemon/workers.ts).
 */
export function temporaryDirectories(): { dir: string; how: string }[] {
  const list: { dir: string; how: string }[] = [];
  const runtime = process.env.RUNTIME_DIRECTORY?.split(':')[0];
  if (runtime) list.push({ dir: runtime, how: 'RUNTIME_DIRECTORY' });
  list.push({ dir: tmpdir(), how: process.env.TMPDIR ? 'TMPDIR' : 'TMPDIR unset' }, { dir: '/dev/shm', how: '' });
  return list;
}

/**
 * Throws, saying why, unless dir is a directory where others cannot take over what this process
 * creates: writable by group or others only with the sticky bit (others could otherwise rename a
 * private directory made there and put theirs in its place).
 */
export function checkSharedDirectory(dir: string): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? 'absent' : `cannot stat it (${code})`);
  }
  if (!st.isDirectory()) throw new Error('not a directory');
  if (st.mode & 0o022 && !(st.mode & 0o1000)) throw new Error('writable by group or others without the sticky bit');
}

/** Why path must not be loaded from, if it or a directory above it is writable by others or not root's. */
function notRootOnly(path: string): string | undefined {
  for (let p = path; ; p = dirname(p)) {
    const st = statSync(p);
    if (st.uid !== 0) return `${p} is not owned by root`;
    if (st.mode & 0o022) return `${p} is writable by group or others`;
    if (p === '/') return undefined;
  }
}

/** The addon's name in messages: forkd's own is "the native addon". */
const addonLabel = (key: string) => (key === addonAsset ? 'the native addon' : `the native addon ${key}`);

/** Loads the addon `key` from the first place that works; see candidates(). */
function loadFromExecutable(key: string, bytes: Buffer): unknown {
  const tried: string[] = [];
  for (const c of candidates()) {
    try {
      return c.installed ? loadInstalled(join(c.dir, key), bytes) : loadViaDirectory(c.dir, key, bytes);
    } catch (e) {
      if (e instanceof DaemonError) throw e; // out of fds: no other place will do better
      tried.push(`${c.installed ? join(c.dir, key) : c.dir}${c.how ? ` (${c.how})` : ''}: ${(e as Error).message}`);
    }
  }
  throw new DaemonError(
    `cannot load ${addonLabel(key)}; tried ${tried.join('; ')}. Install the package's copy, or set TMPDIR to a private directory where code may run`,
    EX.OSERR,
  );
}

function loadInstalled(file: string, bytes: Buffer): unknown {
  let content: Buffer;
  try {
    content = readFileSync(file);
  } catch (e) {
    throw new Error(
      (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : `unreadable (${(e as NodeJS.ErrnoException).code})`,
    );
  }
  const unsafe = notRootOnly(file);
  if (unsafe) throw new Error(unsafe);
  if (!content.equals(bytes)) throw new Error("not this executable's version");
  return dlopen(file);
}

function dlopen(path: string): unknown {
  const module = { exports: {} };
  try {
    process.dlopen(module, path);
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    if (/too many open files/i.test(why)) outOfFds({ code: 'EMFILE' });
    throw new Error(/failed to map segment|operation not permitted/i.test(why) ? 'mounted noexec' : why);
  }
  return module.exports;
}

/**
 * The fds of the addons loaded through /proc/self/fd/N, open for the life of the process: dlopen
 * knows a library by its path name, so a second addon loaded through a reused N would be handed
 * the first one back. An fd that stays open keeps its number for itself.
 */
const addonFds: number[] = [];

function loadViaDirectory(dir: string, key: string, bytes: Buffer): unknown {
  checkSharedDirectory(dir);
  const O_TMPFILE = 0o20000000 | constants.O_DIRECTORY;
  let fd: number | undefined;
  try {
    fd = openSync(dir, O_TMPFILE | constants.O_RDWR, 0o600);
  } catch (e) {
    outOfFds(e);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') throw new Error(`not writable (${code})`);
    fd = undefined; // no O_TMPFILE on this file system
  }
  if (fd !== undefined) {
    try {
      writeAllSync(fd, bytes);
      const exports = dlopen(`/proc/self/fd/${fd}`);
      addonFds.push(fd);
      return exports;
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }
  let privateDir: string;
  try {
    privateDir = mkdtempSync(join(dir, 'forkd-addon-'));
  } catch (e) {
    outOfFds(e);
    throw new Error(`cannot create a private directory (${(e as NodeJS.ErrnoException).code})`);
  }
  const file = join(privateDir, basename(key));
  try {
    writeFileSync(file, bytes, { mode: 0o600, flag: 'wx' });
    return dlopen(file);
  } finally {
    rmSync(file, { force: true });
    rmdirSync(privateDir);
  }
}

/** Out of file descriptors is not the directory's fault: name the limit, not TMPDIR. */
function outOfFds(e: unknown): void {
  const code = (e as { code?: string }).code;
  if (code === 'EMFILE' || code === 'ENFILE')
    throw new DaemonError(
      `cannot load a native addon: too many open files (${code}); raise the open-file limit (ulimit -n 1024)`,
      EX.OSERR,
    );
}

function writeAllSync(fd: number, data: Buffer): void {
  for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
}

/** Gives the addon's errors Node's `code` ("ENOENT"), so callers handle them like fs errors. */
function withCodes(addon: NativeAddon): NativeAddon {
  const wrapped: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(addon)) {
    if (typeof value !== 'function') {
      wrapped[key] = value;
      continue;
    }
    wrapped[key] = (...args: unknown[]) => {
      try {
        return (value as (...a: unknown[]) => unknown)(...args);
      } catch (e) {
        const err = e as Error & { errno?: number; code?: string };
        if (typeof err.errno === 'number') err.code = getSystemErrorName(-err.errno);
        throw err;
      }
    };
  }
  return wrapped as unknown as NativeAddon;
}

let loaded: NativeAddon | undefined;

/** The addon, loaded on first use (--help and --version never need it). */
export function native(): NativeAddon {
  loaded ??= withCodes(load());
  return loaded;
}
