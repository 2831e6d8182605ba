// The restart command (ARCHITECTURE.md §2, "Restart"): the running daemon is replaced by a
// successor started from the executable's current file, on the same listening sockets. This
// process is the successor's starting parent, so a failed restart reads exactly as a failed start.
import { closeSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { alive } from './alive';
import { LSB, sameExecutable } from './control';
import { STOP_GRACE_MS, STOP_TIMEOUT_MS } from './defaults';
import { isSystemError, reason } from './exit-codes';
import { Logger } from './logger';
import { native } from './native';
import { finish, startDaemon } from './parent';
import { probePidFile } from './pidfile';

/**
 * The successor's marker, "<old pid>:<fd>": it prepares its pid file unnamed and takes it over
 * once ready, then closes fd, its copy of the hand-over connection (see restart()).
 */
export const SUCCESSOR_MARKER = 'FORKD_SUCCESSOR';

/** How long the daemon has to answer SIGUSR2 with its sockets. */
const HANDOVER_WAIT_MS = 5_000;

export interface RestartOptions {
  name: string;
  pidFile: string;
  readyTimeoutMs: number;
  /** Where the word "restart" is in the command line, from the end: the successor's is the rest. */
  argFromEnd: number;
}

/** Runs `NAME restart` and exits: 0 once the successor serves and the old daemon has gone. */
export async function restart(opts: RestartOptions): Promise<never> {
  const log = new Logger(opts.name);
  const refuse = (line: string, code: number): never => {
    log.error(`cannot restart: ${line}`);
    process.exit(code);
  };
  const probe = probePidFile(opts.pidFile);
  if (probe.state === 'unknown')
    refuse(`${probe.reason}; nothing signalled (see who holds it: fuser -v ${opts.pidFile})`, LSB.FAILED);
  if (probe.state !== 'running')
    refuse(`${opts.name} is not running (pid file ${opts.pidFile}); start it with "${opts.name}"`, LSB.NOT_RUNNING);
  const { pid } = probe as { pid: number };
  // The same proof as stop and reload: this program, or its file before an upgrade replaced it.
  const proof = sameExecutable(pid);
  if (proof !== true) refuse(`${proof.why}; nothing signalled`, proof.noperm ? LSB.NOPERM : LSB.FAILED);
  // The file at the path this command runs from: after an upgrade, the new version.
  const execPath = readlinkSync('/proc/self/exe');

  const { conn, fds } = askForSockets(pid, refuse);
  // This command line without "restart", never the old daemon's: a daemon that dropped root
  // can rewrite its own /proc/PID/cmdline, and must not choose what root starts.
  const { outcome, exitCode } = startDaemon(
    { name: opts.name, readyTimeoutMs: opts.readyTimeoutMs, stopGraceMs: STOP_GRACE_MS, pidFile: opts.pidFile },
    // The successor holds the hand-over connection too: the old daemon hears its end once
    // both have closed it, so a command killed while the successor starts cannot leave two
    // daemons serving.
    {
      execPath,
      dropArg: opts.argFromEnd,
      listenFds: fds,
      extraFds: [conn],
      env: `${SUCCESSOR_MARKER}=${pid}:${3 + fds.length}`,
    },
  );
  for (const fd of fds) closeSync(fd);
  // Closing the connection (the successor closed its copy once ready) ends the old daemon's
  // wait: it stops if the successor took the pid file over, else it serves on.
  closeSync(conn);
  if (outcome?.end !== 'ready') finish(outcome, exitCode);
  // A script may start or restart again at once: return once the old daemon has gone.
  const deadline = Date.now() + STOP_TIMEOUT_MS + STOP_GRACE_MS;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      log.warn(`pid ${pid} is still draining after ${STOP_TIMEOUT_MS / 1000} s; pid ${outcome.pid} serves`);
      break;
    }
    await sleep(10);
  }
  process.stdout.write(`${opts.name} (pid ${pid}) replaced by pid ${outcome.pid}\n`);
  process.exit(0);
}

/** SIGUSR2 to the proven daemon, which connects back and passes its listening sockets. */
function askForSockets(pid: number, refuse: (line: string, code: number) => never): { conn: number; fds: number[] } {
  let listening: number;
  try {
    listening = native().handoverListen(pid);
  } catch (e) {
    const busy = isSystemError(e) && e.code === 'EADDRINUSE';
    return refuse(busy ? `another restart of pid ${pid} is under way` : `hand-over socket: ${reason(e)}`, LSB.FAILED);
  }
  try {
    process.kill(pid, 'SIGUSR2');
  } catch (e) {
    closeSync(listening);
    return refuse(`cannot signal pid ${pid}: ${reason(e)}; run as root or as the daemon's user`, LSB.NOPERM);
  }
  let got: ReturnType<ReturnType<typeof native>['handoverAccept']>;
  try {
    got = native().handoverAccept(listening, pid, HANDOVER_WAIT_MS);
  } catch (e) {
    const code = isSystemError(e) ? e.code : undefined;
    return refuse(
      code === 'ETIMEDOUT'
        ? `pid ${pid} did not hand its sockets over within ${HANDOVER_WAIT_MS / 1000} s; see its log`
        : `hand-over from pid ${pid}: ${reason(e)}`,
      LSB.FAILED,
    );
  } finally {
    closeSync(listening);
  }
  const { conn, answer, fds } = got;
  const why =
    answer === 'F'
      ? `pid ${pid} runs under a service manager (--foreground); restart it there (systemctl restart)`
      : answer === 'B'
        ? `pid ${pid} is starting, stopping or being restarted; try again once it serves`
        : answer === 'N'
          ? `pid ${pid}'s server binds its own sockets (it does not declare servesListenFds), so a new daemon could not serve on them; stop it and start it (README: Porting your server)`
          : answer !== 'G'
            ? `pid ${pid} answered the hand-over with ${JSON.stringify(answer)}`
            : fds.length === 0
              ? `pid ${pid} listens on no socket; stop it and start it`
              : undefined;
  if (why) {
    for (const fd of fds) closeSync(fd);
    closeSync(conn);
    return refuse(why, answer === 'N' ? LSB.RESTART_BY_STOP_START : LSB.FAILED);
  }
  return { conn, fds };
}
