// The pid file: created without following symlinks, locked while the daemon lives (native/pidfile.c).
import { dirname } from 'node:path';
import { DaemonError, EX, isSystemError, reason, refusal } from './exit-codes';
import { native } from './native';

export class PidFile {
  private constructor(
    readonly path: string,
    private fd: number | undefined,
  ) {}

  /** Takes the pid file for this process, or throws a DaemonError that says why and what to do. */
  static acquire(path: string, name: string): PidFile {
    try {
      return new PidFile(path, native().pidfileAcquire(path, process.pid));
    } catch (e) {
      throw acquireError(e, path, name);
    }
  }

  /**
   * A restart's successor: the file written and locked, but unnamed until takeOver(), so that
   * the old daemon keeps the path until this one is ready.
   */
  static prepareSuccessor(path: string): PidFile {
    try {
      return new PidFile(path, native().pidfilePrepareSuccessor(path, process.pid));
    } catch (e) {
      throw new DaemonError(
        `cannot prepare pid file ${path} for the restart: ${reason(e)}; stop the daemon and start it instead`,
        EX.CANTCREAT,
      );
    }
  }

  /** Names this file at path, atomically replacing the old daemon's (see prepareSuccessor). */
  takeOver(): void {
    try {
      if (this.fd !== undefined) native().pidfileTakeOver(this.fd, this.path);
    } catch (e) {
      throw new DaemonError(
        `cannot take pid file ${this.path} over: ${reason(e)}; fix the permissions of ${dirname(this.path)}`,
        EX.CANTCREAT,
      );
    }
  }

  /** Removes the file (if it is still ours) and drops the lock. Safe to call twice. */
  release(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      native().pidfileRelease(fd, this.path);
    } catch {
      // The directory may have become unwritable (privileges dropped): the lock still goes.
    }
  }
}

export type PidFileState =
  | { state: 'running'; pid: number }
  | { state: 'stale'; pid: number }
  | { state: 'absent' }
  | { state: 'unknown'; reason: string };

/**
 * What the pid file at path says, for stop/status/reload. 'running' only when the lock is held
 * by the very process the file names (pid > 1): a lock taken by someone else, or a number
 * another process wrote, is 'unknown' and never a pid to signal.
 */
export function probePidFile(path: string): PidFileState {
  let probe: { locked: boolean; pid: number; holder: number };
  try {
    probe = native().pidfileProbe(path);
  } catch (e) {
    if (isSystemError(e) && e.code === 'ENOENT') return { state: 'absent' };
    const refused = refusal(e);
    if (refused) return { state: 'unknown', reason: `${path}: ${refused}` };
    return { state: 'unknown', reason: `cannot read ${path}: ${reason(e)}` };
  }
  const { locked, pid, holder } = probe;
  if (!locked) return { state: 'stale', pid };
  if (pid > 1 && holder === pid) return { state: 'running', pid };
  const names = pid > 1 ? `names pid ${pid}` : 'holds no valid pid';
  const by = holder > 0 ? `pid ${holder}` : 'a process not listed in /proc/locks';
  return { state: 'unknown', reason: `${path} is locked by ${by} but ${names}` };
}

function acquireError(e: unknown, path: string, name: string): Error {
  const code = isSystemError(e) ? e.code : undefined;
  const refused = refusal(e);
  if (code === 'EISDIR')
    return new DaemonError(
      `refusing pid file ${path}: ${refused}; name a file in it (--pidfile ${path}/${name}.pid)`,
      EX.CANTCREAT,
    );
  if (refused)
    return new DaemonError(
      `refusing pid file ${path}: ${refused}; remove it or choose another --pidfile`,
      EX.CANTCREAT,
    );
  switch (code) {
    case 'EWOULDBLOCK':
    case 'EAGAIN': {
      const holder = (e as { holder?: number }).holder;
      const who = holder ? `pid ${holder}` : 'pid unknown';
      return new DaemonError(
        `already running (${who}): ${path} is locked; stop it with "${name} stop --pidfile ${path}" or choose another --pidfile`,
        EX.UNAVAILABLE,
      );
    }
    case 'ENOENT':
    case 'ENOTDIR':
      return new DaemonError(
        `cannot create pid file ${path}: directory ${dirname(path)} does not exist; create it or choose another --pidfile`,
        EX.CANTCREAT,
      );
    default:
      return new DaemonError(
        `cannot create pid file ${path}: ${reason(e)}; fix the permissions of ${dirname(path)} or choose another --pidfile`,
        EX.CANTCREAT,
      );
  }
}
