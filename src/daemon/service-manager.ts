// What systemd hands a new-style daemon (daemon(7)): a notification socket, a watchdog, sockets.
import { closeSync, fstatSync } from 'node:fs';
import { DaemonError, EX } from './exit-codes';
import { native } from './native';

/** The name (LISTEN_FDNAMES) of a socket that comes back from the file-descriptor store. */
export const STORED_FD = 'stored';

export interface ListenFd {
  fd: number;
  /** From LISTEN_FDNAMES; "unknown" when not named. */
  name: string;
}

/** Told when a notification does not reach the manager; not again until one does. */
export type NotifyFailure = (e: Error, socket: string) => void;

/**
 * Reads NOTIFY_SOCKET, WATCHDOG_USEC/WATCHDOG_PID and LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES once,
 * and removes them from the environment so that processes the daemon starts do not act on them.
 * Every notification is a no-op without NOTIFY_SOCKET.
 */
export class ServiceManager {
  private watchdog: NodeJS.Timeout | undefined;
  private failing = false;

  private constructor(
    private readonly socket: string | undefined,
    private readonly watchdogUsec: number,
    private passed: ListenFd[],
    private readonly fdStoreMax: number,
    private readonly onFailure: NotifyFailure,
  ) {}

  static fromEnvironment(env: NodeJS.ProcessEnv = process.env, onFailure: NotifyFailure = () => {}): ServiceManager {
    const socket = env.NOTIFY_SOCKET || undefined;
    const wdUsec = Number(env.WATCHDOG_USEC);
    const wdForUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid;
    const listenFds = takeListenFds(env);
    // FileDescriptorStoreMax= of the unit: systemd 254 and later set FDSTORE; the packaged unit
    // sets it too, for systemd 252.
    const fdStoreMax = Number(env.FDSTORE);
    for (const k of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'FDSTORE']) delete env[k];
    const watchdogUsec = Number.isFinite(wdUsec) && wdUsec > 0 && wdForUs ? wdUsec : 0;
    const storeMax = Number.isInteger(fdStoreMax) && fdStoreMax > 0 ? fdStoreMax : 0;
    const manager = new ServiceManager(socket, watchdogUsec, listenFds, storeMax, onFailure);
    // The sockets kept in the store are this process's now: out of the store until ready() puts
    // back what it serves, so that none the server closes (a changed address, a server that
    // binds its own) stays open in the manager, holding its address.
    if (listenFds.some((l) => l.name === STORED_FD)) {
      manager.send(['FDSTOREREMOVE=1', `FDNAME=${STORED_FD}`]);
      // Handled before the server binds: a socket it closes must be closed in the manager too.
      try {
        if (socket) native().notifyBarrier(socket, 5000);
      } catch (e) {
        onFailure(e as Error, socket!);
      }
    }
    return manager;
  }

  /** Sockets passed in LISTEN_FDS (socket activation, a restart, the file-descriptor store). */
  get listenFds(): ListenFd[] {
    return this.passed;
  }

  /** Closes the sockets kept in the store, for a server that binds its own (their address). */
  closeKept(): void {
    for (const l of this.passed) if (l.name === STORED_FD) closeSync(l.fd);
    this.passed = this.passed.filter((l) => l.name !== STORED_FD);
  }

  /**
   * Sends "KEY=value" lines. A failure to reach the manager does not stop the daemon: it goes to
   * onFailure, once until a notification gets through again (the watchdog would repeat it).
   */
  notify(...lines: string[]): void {
    this.send(lines);
  }

  private send(lines: string[], fds: number[] = []): void {
    if (!this.socket) return;
    try {
      native().notify(this.socket, lines.join('\n'), fds);
      this.failing = false;
    } catch (e) {
      if (!this.failing) this.onFailure(e as Error, this.socket);
      this.failing = true;
    }
  }

  /** Whether the unit has a file-descriptor store (FDSTORE, from FileDescriptorStoreMax=). */
  get fdStore(): boolean {
    return this.socket !== undefined && this.fdStoreMax > 0;
  }

  /**
   * Keeps the listening sockets the daemon serves on in the service manager's file-descriptor
   * store (FDSTORE=1), when the unit has one: a restart after a crash (Restart=on-failure) and a
   * systemctl restart pass them back as LISTEN_FDS named STORED_FD, and connections that
   * arrive in between wait in their queue instead of being refused. Sockets a socket unit passed
   * are its own.
   */
  storeListeningSockets(): number {
    if (!this.fdStore) return 0;
    const unitOwned = new Set(this.passed.filter((l) => l.name !== STORED_FD).map((l) => l.fd));
    const own = native()
      .listeningFds()
      .filter((fd) => !unitOwned.has(fd))
      .slice(0, this.fdStoreMax);
    if (own.length > 0) this.send(['FDSTORE=1', `FDNAME=${STORED_FD}`], own);
    return own.length;
  }

  ready(status?: string): void {
    this.notify('READY=1', ...(status ? [`STATUS=${status}`] : []));
  }

  reloading(): void {
    this.notify('RELOADING=1', `MONOTONIC_USEC=${native().monotonicUsec()}`);
  }

  stopping(): void {
    this.notify('STOPPING=1');
  }

  /**
   * WATCHDOG=1 at half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises, until the process
   * exits. systemd stops watching when it stops the service itself; a stop begun by someone
   * else's SIGTERM leaves the unit running, watched, so the pings go on through the stop.
   */
  startWatchdog(): void {
    if (!this.watchdogUsec || !this.socket || this.watchdog) return;
    const every = Math.max(1, Math.floor(this.watchdogUsec / 2000));
    this.watchdog = setInterval(() => this.notify('WATCHDOG=1'), every);
    this.watchdog.unref();
  }
}

/** sd_listen_fds(3): fds from 3 on, when LISTEN_PID is this process. */
function takeListenFds(env: NodeJS.ProcessEnv): ListenFd[] {
  const pid = Number(env.LISTEN_PID);
  const count = Number(env.LISTEN_FDS);
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  for (const k of ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES']) delete env[k];
  if (pid !== process.pid || !Number.isInteger(count) || count < 1) return [];
  const fds: ListenFd[] = [];
  for (let i = 0; i < count; i++) {
    const fd = 3 + i;
    let isSocket = false;
    try {
      isSocket = fstatSync(fd).isSocket();
    } catch {
      // not open
    }
    if (!isSocket)
      throw new DaemonError(
        `LISTEN_FDS=${count}, but fd ${fd} is not a socket; check the socket unit or the activator`,
        EX.CONFIG,
      );
    native().setCloexec(fd);
    fds.push({ fd, name: names[i] || 'unknown' });
  }
  return fds;
}

/** True when fd 2 is the journal's stream (JOURNAL_STREAM names its device and inode). */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!m) return false;
  try {
    const st = fstatSync(2, { bigint: true });
    return st.dev === BigInt(m[1]) && st.ino === BigInt(m[2]);
  } catch {
    return false;
  }
}
