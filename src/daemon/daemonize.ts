// daemonize() and the daemon's lifecycle: set-up, ready, reload, graceful stop (ARCHITECTURE.md §1).
import { closeSync, fstatSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { CHDIR, READY_TIMEOUT_MS, STOP_GRACE_MS, STOP_TIMEOUT_MS } from './defaults';
import { DaemonError, EX, reason, refusal } from './exit-codes';
import { Logger, type LogStyle } from './logger';
import { native } from './native';
import { runParent } from './parent';
import { PidFile, probePidFile } from './pidfile';
import { SUCCESSOR_MARKER } from './restart';
import { type ListenFd, ServiceManager, stderrIsJournal } from './service-manager';

export interface DaemonOptions {
  /** Name used in messages. */
  name: string;
  /** Do not fork: stay attached, log to stderr (systemd, containers, debugging). */
  foreground?: boolean;
  /** How long the starting parent waits for ready() before it stops the child; 0: for ever. Default READY_TIMEOUT_MS. */
  readyTimeoutMs?: number;
  /** Absolute path of the pid file; none if undefined. */
  pidFile?: string;
  /** Working directory of the daemon. Default CHDIR ("/"). */
  chdir?: string;
  /**
   * Forked (daemon(7)): default 0o022. With foreground (under a service manager) the umask
   * given, such as the unit's UMask=, is kept unless this is set.
   */
  umask?: number;
  /**
   * Where stdout and stderr go once ready, when forked: an absolute path (a log file), "syslog"
   * (a relay to /dev/log, native/syslog_relay.h) or "none" (/dev/null). Default: syslog if
   * /dev/log answers, else none with a warning on the starting terminal. With foreground,
   * only a path applies (stderr stays otherwise).
   */
  logFile?: string;
  /** Bound on a graceful stop before the daemon exits anyway. Default STOP_TIMEOUT_MS. */
  stopTimeoutMs?: number;
  /** Started as root: become this user once ready() is called (after binding). */
  user?: string;
  /** With user: this group instead of the user's primary group. */
  group?: string;
}

/** The local syslog socket (syslog(3)'s _PATH_LOG); journald serves it too. */
const syslogSocket = '/dev/log';

/** logFile names a file, not "syslog" or "none". */
function isLogPath(logFile: string | undefined): logFile is string {
  return logFile !== undefined && logFile !== 'syslog' && logFile !== 'none';
}

/** The user and group ready() switches to (--user, --group): not src/identity.ts's Identity. */
interface RunAs {
  user: string;
  uid: number;
  gid: number;
}

type Hook = () => void | Promise<void>;
type State = 'starting' | 'ready' | 'stopping';

/**
 * Call right after parsing arguments. In the starting process it forks, re-executes this program
 * as the daemon, relays its start-up messages and exits as the daemon's start-up went: it never
 * returns there. In the daemon (and with `foreground`) it returns the Daemon.
 */
export function daemonize(opts: DaemonOptions): Daemon {
  // Named as the daemon, not Node's "MainThread": for ps, pgrep -x, killall, systemctl status.
  native().setProcessName(opts.name);
  const readyFd = takeReadyChannel();
  // Only `restart` makes a successor: a marker from the starting shell makes none.
  if (readyFd === undefined) delete process.env[SUCCESSOR_MARKER];
  if (readyFd === undefined && !opts.foreground)
    runParent({
      name: opts.name,
      readyTimeoutMs: opts.readyTimeoutMs ?? READY_TIMEOUT_MS,
      stopGraceMs: STOP_GRACE_MS,
      pidFile: opts.pidFile,
    });
  return new Daemon(opts, readyFd, readyFd === undefined ? undefined : takeSuccessorMarker());
}

/** In a restart's successor ("<old pid>:<fd>"): its copy of the hand-over connection. */
function takeSuccessorMarker(): Successor | undefined {
  const marker = process.env[SUCCESSOR_MARKER];
  delete process.env[SUCCESSOR_MARKER];
  const m = /^(\d+):(\d+)$/.exec(marker ?? '');
  if (!m) return undefined;
  const handover = Number(m[2]);
  try {
    if (!fstatSync(handover).isSocket()) throw new Error('not a socket');
    native().setCloexec(handover);
  } catch (e) {
    throw new DaemonError(
      `${SUCCESSOR_MARKER}=${marker}: fd ${handover} ${reason(e)}; do not set it yourself`,
      EX.SOFTWARE,
    );
  }
  return { handover };
}

interface Successor {
  /** Closed once the pid file is taken over: the old daemon stops when the command closes it too. */
  handover: number;
}

/**
 * The ready channel's fd if this process is the re-executed daemon; the marker is not inherited.
 * A marker that names this process but no usable channel ends the start: carrying on would fork
 * a second time, and the waiting parent would never hear "ready".
 */
function takeReadyChannel(): number | undefined {
  const name = native().readyMarker;
  const marker = process.env[name];
  if (marker === undefined) return undefined;
  delete process.env[name];
  const m = /^(\d+):(\d+)$/.exec(marker);
  // A marker naming another pid was inherited from some other daemon: not ours.
  if (!m || Number(m[1]) !== process.pid) return undefined;
  const fd = Number(m[2]);
  try {
    native().claimReadyChannel(fd);
  } catch (e) {
    throw new DaemonError(
      `${name}=${marker} names this process, but fd ${fd} is not its ready channel (${reason(e)}); do not set ${name} yourself`,
      EX.SOFTWARE,
    );
  }
  return fd;
}

/**
 * In the daemon, fds 1 and 2 are pipes to the starting parent until ready(). Node queues what a
 * pipe cannot take at once and writes it later, so ready() moving the fds, or an exit, would
 * lose or misdirect it. Blocking writes, as Node uses for files and terminals, leave nothing
 * queued: whatever console, process.stdout/stderr or a logger on them wrote has been written.
 */
function writeThrough(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const handle = (stream as unknown as { _handle?: { setBlocking?: (on: boolean) => number } })._handle;
    handle?.setBlocking?.(true);
  }
}

export class Daemon {
  readonly log: Logger;
  readonly foreground: boolean;
  private state: State = 'starting';
  private pidFile: PidFile | undefined;
  private logFd: number | undefined;
  private readonly stopHooks: Hook[] = [];
  private readonly reloadHooks: Hook[] = [];
  private reloading: Promise<void> | undefined;
  private manager: ServiceManager | undefined;
  private dropTo: RunAs | undefined;
  /** A restart is under way: the sockets were handed over, the successor is starting. */
  private handingOver = false;
  /** The server serves on passed sockets rather than binding its own (servesListenFds). */
  private servesPassedSockets = false;

  constructor(
    private readonly opts: DaemonOptions,
    private readyFd: number | undefined,
    /** A restart's successor (src/daemon/restart.ts). */
    private readonly successor?: Successor,
  ) {
    this.log = new Logger(opts.name);
    if (stderrIsJournal()) this.log.style = 'journal';
    this.foreground = opts.foreground === true && readyFd === undefined;
    if (readyFd !== undefined) writeThrough();
    process.on('SIGTERM', () => void this.stop('SIGTERM'));
    process.on('SIGINT', () => void this.stop('SIGINT'));
    process.on('SIGHUP', () => void this.reload());
    process.on('SIGUSR2', () => this.handOver());
    // Whatever way the process ends, a pid file it holds goes with it.
    process.on('exit', () => this.pidFile?.release());
    process.on('uncaughtException', (e) => this.crash(e));
  }

  /**
   * Sockets passed by socket activation, a restart or the service manager's file-descriptor store
   * (LISTEN_FDS): serve on these instead of binding. Those the store kept are named STORED_FD.
   */
  get listenFds(): ListenFd[] {
    return this.manager?.listenFds ?? [];
  }

  /**
   * Whether the server serves on listenFds (its module's servesListenFds), said before it starts.
   * If it does, the daemon keeps its listening sockets in the service manager's store and hands
   * them over on `restart`. If not, the sockets a restart kept are closed now, so that the
   * server's own bind finds their address free, and `restart` is refused.
   */
  servesListenFds(serves: boolean): void {
    this.servesPassedSockets = serves;
    if (!serves) this.manager?.closeKept();
  }

  /** A one-line status for the service manager (systemctl status); a no-op without one. */
  setStatus(text: string): void {
    this.manager?.notify(`STATUS=${text}`);
  }

  /**
   * Sets up the process (umask, working directory, log file, pid file), runs start, then
   * declares the daemon ready unless start already did. A DaemonError ends the start with its
   * message and exit code; any other error is a bug (exit 70).
   */
  async run(start: (daemon: Daemon) => void | Promise<void>): Promise<void> {
    try {
      this.setUp();
      await start(this);
      this.ready();
    } catch (e) {
      this.fail(e);
    }
  }

  /** Registers work for a graceful stop (SIGTERM, SIGINT). Hooks run in reverse order. */
  onStop(hook: Hook): void {
    this.stopHooks.unshift(hook);
  }

  /** Registers work for a reload (SIGHUP), after the log file has been reopened. */
  onReload(hook: Hook): void {
    this.reloadHooks.push(hook);
  }

  /**
   * Start-up is complete: fds 1 and 2 move to the log target, and the waiting parent exits 0.
   * Call it once the daemon serves (its sockets accept connections).
   */
  ready(status?: string): void {
    if (this.state !== 'starting') return;
    // A successor names its pid file now, while it may still be root: rename(2) over the old
    // daemon's, which sees it and stops once this copy of the hand-over connection and the
    // restart command's are closed (src/daemon/restart.ts).
    if (this.successor) {
      this.pidFile?.takeOver();
      closeSync(this.successor.handover);
    }
    if (this.dropTo) this.dropPrivileges(this.dropTo);
    this.state = 'ready';
    if (this.logFd !== undefined) {
      this.switchOutput(this.logFd, this.logFd, 'stamped');
      this.logFd = undefined;
    } else if (this.readyFd !== undefined) {
      this.switchToSyslogOrNothing();
    }
    if (this.readyFd !== undefined) {
      const fd = this.readyFd;
      this.readyFd = undefined;
      try {
        native().signalReady(fd);
      } catch {
        // The starting parent is gone (killed): nobody waits for the word, so serve on.
      }
    }
    this.keepSockets();
    this.manager?.ready(status);
    this.manager?.startWatchdog();
    this.log.info(`ready (pid ${process.pid})`);
  }

  /**
   * Under a unit with a file-descriptor store, before READY=1 (so that a restart's caller finds
   * them there): the listening sockets, for a server that serves on passed ones.
   */
  private keepSockets(): void {
    if (!this.manager?.fdStore) return;
    if (!this.servesPassedSockets) {
      this.log.warn(
        'listening sockets not kept across restarts: the server does not declare servesListenFds (README: Porting your server)',
      );
      return;
    }
    try {
      if (this.manager.storeListeningSockets() === 0)
        this.log.warn('no listening socket to keep across restarts: bind before ready()');
    } catch (e) {
      this.log.warn(`listening sockets not kept across restarts: ${reason(e)}`);
    }
  }

  /** Ends the process after a failure: the message on stderr, pid file removed, exit code. */
  fail(e: unknown): never {
    if (e instanceof DaemonError) {
      this.log.error(e.message);
      this.exit(e.exitCode);
    }
    this.crash(e);
  }

  private crash(e: unknown): never {
    const detail = e instanceof Error ? (e.stack ?? e.message) : String(e);
    this.log.error(`internal error: ${detail.replace(/\n\s*/g, ' | ')}`);
    this.exit(EX.SOFTWARE);
  }

  private exit(code: number): never {
    this.pidFile?.release();
    process.exit(code);
  }

  private setUp(): void {
    if (this.opts.umask !== undefined) process.umask(this.opts.umask);
    else if (!this.foreground) process.umask(0o022); // forked: daemon(7)'s reset
    const dir = this.opts.chdir ?? CHDIR;
    try {
      process.chdir(dir);
    } catch (e) {
      throw new DaemonError(
        `cannot change directory to ${dir}: ${reason(e)}; create it or choose another --chdir`,
        EX.NOINPUT,
      );
    }
    this.dropTo = this.resolveUser();
    if (isLogPath(this.opts.logFile)) this.logFd = this.openLog(this.opts.logFile);
    if (this.opts.pidFile)
      this.pidFile =
        this.successor === undefined
          ? PidFile.acquire(this.opts.pidFile, this.opts.name)
          : PidFile.prepareSuccessor(this.opts.pidFile);
    this.manager = ServiceManager.fromEnvironment(process.env, (e, socket) =>
      this.log.warn(`cannot notify the service manager at ${socket}: ${reason(e)}; carrying on`),
    );
  }

  /** Checks --user/--group before anything is done, so a typo fails the start at once. */
  private resolveUser(): RunAs | undefined {
    const { user, group } = this.opts;
    if (!user) return undefined;
    let ids: { uid: number; gid: number };
    try {
      ids = native().lookupUser(user);
    } catch (e) {
      throw new DaemonError(`unknown user "${user}" (${reason(e)}); create it or choose another --user`, EX.NOUSER);
    }
    let gid = ids.gid;
    if (group) {
      try {
        gid = native().lookupGroup(group);
      } catch (e) {
        throw new DaemonError(
          `unknown group "${group}" (${reason(e)}); create it or choose another --group`,
          EX.NOUSER,
        );
      }
    }
    if (process.geteuid!() !== 0) {
      if (ids.uid === process.geteuid!() && gid === process.getegid!()) return undefined;
      throw new DaemonError(
        `--user ${user} needs root (running as uid ${process.geteuid!()}); start as root or leave out --user`,
        EX.NOPERM,
      );
    }
    return { user, uid: ids.uid, gid };
  }

  private dropPrivileges(to: RunAs): void {
    try {
      native().dropPrivileges(to.user, to.uid, to.gid);
    } catch (e) {
      this.fail(new DaemonError(`cannot drop privileges to ${to.user}: ${reason(e)}`, EX.OSERR));
    }
    this.log.info(`running as ${to.user} (uid ${to.uid}, gid ${to.gid})`);
  }

  /**
   * Opened as the pid file is (native/safe_open.c): never through a symlink or a hard link. A
   * file it creates goes to the --user, who reopens it on SIGHUP; an existing one keeps its owner.
   */
  private openLog(path: string): number {
    try {
      return native().openLog(path, this.dropTo?.uid ?? -1, this.dropTo?.gid ?? -1);
    } catch (e) {
      const refused = refusal(e);
      if (refused)
        throw new DaemonError(`refusing log file ${path}: ${refused}; remove it or choose another --log`, EX.CANTCREAT);
      throw new DaemonError(
        `cannot open log file ${path}: ${reason(e)}; fix its directory's permissions or choose another --log`,
        EX.CANTCREAT,
      );
    }
  }

  /**
   * Forked with no log file: stdout and stderr go to syslog through a relay, so that what the
   * daemon says after ready (a crash's stack trace included) is kept. Without a syslog daemon the
   * person starting it is told, and the output is discarded; "--log syslog" then fails the start.
   */
  private switchToSyslogOrNothing(): void {
    if (this.opts.logFile !== 'none') {
      try {
        const { out, err } = native().syslogRelay(this.opts.name, syslogSocket);
        this.switchOutput(out, err, 'journal'); // the relay reads "<N>" as the line's priority
        // Should the relay die (SIGKILL), writes fail with EPIPE: the output is lost either way,
        // and the daemon must not die of it.
        for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? '';
        const unreachable = ['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK', 'EPROTOTYPE'].includes(code);
        const why = unreachable
          ? `${syslogSocket} does not answer (${reason(e)})`
          : `cannot start the syslog relay (${reason(e)})`;
        if (this.opts.logFile === 'syslog')
          this.fail(
            new DaemonError(`--log syslog: ${why}; start a syslog daemon or choose another --log`, EX.UNAVAILABLE),
          );
        this.log.warn(`${why}: output after ready is discarded; pass --log FILE to keep it, or --log none`);
      }
    }
    const fd = openSync('/dev/null', 'w');
    this.switchOutput(fd, fd, 'plain');
  }

  /** stdout and stderr go to out and err (a log file, the syslog relay or /dev/null) from now on. */
  private switchOutput(out: number, err: number, style: LogStyle): void {
    native().dup2(out, 1);
    native().dup2(err, 2);
    closeSync(out);
    if (err !== out) closeSync(err);
    this.log.style = stderrIsJournal() ? 'journal' : style;
  }

  private async stop(why: string): Promise<void> {
    if (this.state === 'stopping') return;
    const wasReady = this.state === 'ready';
    this.state = 'stopping';
    this.manager?.stopping();
    this.log.info(wasReady ? `stopping (${why})` : `start-up cancelled (${why})`);
    const bound = this.opts.stopTimeoutMs ?? STOP_TIMEOUT_MS;
    const timer = setTimeout(() => {
      this.log.warn(`graceful stop took longer than ${bound / 1000} s; exiting anyway`);
      this.exit(EX.OK);
    }, bound);
    for (const hook of this.stopHooks) {
      try {
        await hook();
      } catch (e) {
        this.log.error(`while stopping: ${reason(e)}`);
      }
    }
    clearTimeout(timer);
    this.log.info('stopped');
    this.exit(EX.OK);
  }

  /**
   * SIGUSR2, from `NAME restart` (src/daemon/restart.ts): pass the listening sockets over the
   * hand-over socket and serve on. When the command closes it, stop if a successor has taken the
   * pid file over; otherwise the successor failed, and this daemon carries on.
   */
  private handOver(): void {
    const answer = this.foreground
      ? 'F'
      : this.state !== 'ready' || this.handingOver
        ? 'B'
        : this.servesPassedSockets
          ? 'G'
          : 'N';
    let conn: number;
    let fds: number[] = [];
    try {
      if (answer === 'G') fds = native().listeningFds();
      conn = native().handoverGive(answer, fds);
    } catch (e) {
      this.log.warn(`restart asked (SIGUSR2), but the hand-over failed: ${reason(e)}; serving on`);
      return;
    }
    if (answer !== 'G' || fds.length === 0) {
      closeSync(conn);
      return;
    }
    this.handingOver = true;
    this.log.info(`restart: ${fds.length} listening socket(s) handed over; serving until the successor is ready`);
    const link = new Socket({ fd: conn, readable: true, writable: false });
    link.on('error', () => {});
    link.on('close', () => this.handedOver());
    link.resume();
  }

  private handedOver(): void {
    this.handingOver = false;
    const path = this.opts.pidFile;
    const now = path ? probePidFile(path) : undefined;
    if (now?.state === 'running' && now.pid !== process.pid) {
      void this.stop(`restart: pid ${now.pid} took over`);
      return;
    }
    this.log.warn('restart: the successor did not start (the restart command says why); serving on');
  }

  private reload(): Promise<void> {
    if (this.state !== 'ready') {
      this.log.warn(`reload (SIGHUP) ignored: the daemon is ${this.state}`);
      return Promise.resolve();
    }
    // A reload that arrives during one runs after it, so the last SIGHUP's config wins.
    const previous = this.reloading ?? Promise.resolve();
    const next = previous.then(() => this.reloadOnce());
    this.reloading = next;
    return next;
  }

  private async reloadOnce(): Promise<void> {
    if (this.state !== 'ready') return;
    this.manager?.reloading();
    try {
      await this.reloadSteps();
    } finally {
      if (this.state === 'ready') this.manager?.ready();
    }
  }

  private async reloadSteps(): Promise<void> {
    if (isLogPath(this.opts.logFile)) {
      try {
        const fd = this.openLog(this.opts.logFile);
        this.switchOutput(fd, fd, 'stamped');
      } catch (e) {
        this.log.error(`${reason(e)}; logging on to the old file`);
      }
    }
    for (const hook of this.reloadHooks) {
      try {
        await hook();
      } catch (e) {
        this.log.error(`reload failed: ${reason(e)}; carrying on with the running configuration`);
        return;
      }
    }
    this.log.info('reloaded');
  }
}
