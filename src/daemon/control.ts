// The stop|status|reload commands: act on a running daemon through its pid file; LSB exit codes.
import { readlinkSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { alive } from './alive';
import { isSystemError, reason } from './exit-codes';
import { Logger } from './logger';
import { probePidFile } from './pidfile';

export type ControlCommand = 'stop' | 'status' | 'reload';

/** LSB init-script exit codes (status has its own meanings for 1, 3 and 4). */
export const LSB = {
  OK: 0,
  FAILED: 1,
  STATUS_DEAD_PIDFILE: 1,
  STATUS_NOT_RUNNING: 3,
  STATUS_UNKNOWN: 4,
  NOPERM: 4,
  NOT_RUNNING: 7,
  /** restart: the daemon cannot hand its sockets over (its server binds its own); stop, start. */
  RESTART_BY_STOP_START: 150,
} as const;

/** Runs a control command and returns the exit code. Says one line on stdout or stderr. */
export async function control(
  command: ControlCommand,
  pidFile: string,
  name: string,
  stopWaitMs = 30_000,
): Promise<number> {
  const log = new Logger(name);
  const probe = probePidFile(pidFile);
  if (probe.state === 'unknown') {
    const nothing = command === 'status' ? '' : '; nothing signalled';
    log.error(`cannot tell whether ${name} runs: ${probe.reason}${nothing} (see who holds it: fuser -v ${pidFile})`);
    return command === 'status' ? LSB.STATUS_UNKNOWN : LSB.FAILED;
  }
  if (probe.state !== 'running') {
    const stale = probe.state === 'stale' ? `, but pid file ${pidFile} exists` : '';
    const line = `${name} is not running${stale}`;
    if (command === 'status') {
      process.stdout.write(`${line}\n`);
      return probe.state === 'stale' ? LSB.STATUS_DEAD_PIDFILE : LSB.STATUS_NOT_RUNNING;
    }
    if (command === 'stop') {
      process.stdout.write(`${line}\n`);
      return LSB.OK;
    }
    log.error(`cannot reload: ${line}`);
    return LSB.NOT_RUNNING;
  }
  const { pid } = probe;
  if (command === 'status') {
    process.stdout.write(`${name} is running (pid ${pid})\n`);
    return LSB.OK;
  }
  // The lock holder is the pid in the file; it must also run this program before it is signalled.
  const proof = sameExecutable(pid);
  if (proof !== true) {
    log.error(`cannot ${command}: ${proof.why}; nothing signalled`);
    return proof.noperm ? LSB.NOPERM : LSB.FAILED;
  }
  try {
    process.kill(pid, command === 'stop' ? 'SIGTERM' : 'SIGHUP');
  } catch (e) {
    log.error(`cannot signal ${name} (pid ${pid}): ${reason(e)}; run as root or as the daemon's user`);
    return LSB.NOPERM;
  }
  if (command === 'reload') {
    process.stdout.write(`${name} (pid ${pid}) asked to reload\n`);
    return LSB.OK;
  }
  const deadline = Date.now() + stopWaitMs;
  // The pid file goes first; the port is free only once the process itself is gone.
  while (probePidFile(pidFile).state === 'running' || alive(pid)) {
    if (Date.now() > deadline) {
      log.error(
        `pid ${pid} is still running ${stopWaitMs / 1000} s after SIGTERM; see its log, or end it with kill -KILL ${pid}`,
      );
      return LSB.FAILED;
    }
    await sleep(20);
  }
  process.stdout.write(`${name} (pid ${pid}) stopped\n`);
  return LSB.OK;
}

/**
 * Whether pid runs the executable this command runs (/proc/PID/exe is /proc/self/exe), or ran it
 * before an upgrade replaced the file (the link then reads "PATH (deleted)").
 */
export function sameExecutable(pid: number): true | { why: string; noperm: boolean } {
  const ours = readlinkSync('/proc/self/exe');
  let theirs: string;
  try {
    theirs = readlinkSync(`/proc/${pid}/exe`);
    const a = statSync(`/proc/${pid}/exe`);
    const b = statSync('/proc/self/exe');
    if (a.dev === b.dev && a.ino === b.ino) return true;
  } catch (e) {
    if (isSystemError(e) && (e.code === 'EACCES' || e.code === 'EPERM'))
      return { why: `cannot check that pid ${pid} runs ${ours} (${reason(e)}); run as root`, noperm: true };
    if (isSystemError(e) && e.code === 'ENOENT') return { why: `pid ${pid} has just exited`, noperm: false };
    return { why: `cannot check that pid ${pid} runs ${ours}: ${reason(e)}`, noperm: false };
  }
  if (theirs === `${ours} (deleted)`) return true;
  return { why: `pid ${pid} holds the pid file but runs ${theirs}, not ${ours}`, noperm: false };
}
