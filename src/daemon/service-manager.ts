// What systemd hands a new-style daemon (daemon(7)): a notification socket, a watchdog, sockets.
import { fstatSync } from 'node:fs';
import { DaemonError, EX } from './exit-codes';
import { native } from './native';

export interface ListenFd {
  fd: number;
  /** From LISTEN_FDNAMES; "unknown" when not named. */
  name: string;
}

/**
 * Reads NOTIFY_SOCKET, WATCHDOG_USEC/WATCHDOG_PID and LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES once,
 * and removes them from the environment so that processes the daemon starts do not act on them.
 * Every notification is a no-op without NOTIFY_SOCKET.
 */
export class ServiceManager {
  private watchdog: NodeJS.Timeout | undefined;

  private constructor(
    private readonly socket: string | undefined,
    private readonly watchdogUsec: number,
    readonly listenFds: ListenFd[],
  ) {}

  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): ServiceManager {
    const socket = env.NOTIFY_SOCKET || undefined;
    const wdUsec = Number(env.WATCHDOG_USEC);
    const wdForUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid;
    const listenFds = takeListenFds(env);
    for (const k of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID']) delete env[k];
    return new ServiceManager(socket, Number.isFinite(wdUsec) && wdUsec > 0 && wdForUs ? wdUsec : 0, listenFds);
  }

  /** Under a service manager that listens (NOTIFY_SOCKET was set). */
  get managed(): boolean {
    return this.socket !== undefined;
  }

  /** Sends "KEY=value" lines; a failure to reach the manager is returned, not thrown. */
  notify(...lines: string[]): Error | undefined {
    if (!this.socket) return undefined;
    try {
      native().notify(this.socket, lines.join('\n'));
      return undefined;
    } catch (e) {
      return e as Error;
    }
  }

  ready(status?: string): Error | undefined {
    return this.notify('READY=1', ...(status ? [`STATUS=${status}`] : []));
  }

  reloading(): Error | undefined {
    return this.notify('RELOADING=1', `MONOTONIC_USEC=${native().monotonicUsec()}`);
  }

  stopping(): Error | undefined {
    return this.notify('STOPPING=1');
  }

  /** WATCHDOG=1 at half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises. */
  startWatchdog(): void {
    if (!this.watchdogUsec || !this.socket || this.watchdog) return;
    const every = Math.max(1, Math.floor(this.watchdogUsec / 2000));
    this.watchdog = setInterval(() => this.notify('WATCHDOG=1'), every);
    this.watchdog.unref();
  }

  stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
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
