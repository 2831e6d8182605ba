// The starting parent (ARCHITECTURE.md §1): native/fork_parent.c forks, relays the daemon's
// start-up output and reports how the start-up ended; this file says so and exits. Every message
// of the parent and its exit codes live here, once.
import { constants as osConstants } from 'node:os';
import { EX, isSystemError, reason, type SystemError } from './exit-codes';
import { Logger } from './logger';
import { type ForkParentEvent, type ForkParentOutcome, native, type SuccessorPlan } from './native';

export interface ParentOptions {
  name: string;
  readyTimeoutMs: number;
  stopGraceMs: number;
  pidFile?: string;
}

/**
 * Forks and re-executes this program as the daemon, relays its start-up output, then exits as
 * its start-up went: 0 once it is ready, else with the reason on stderr and a sysexits code.
 */
export function runParent(opts: ParentOptions): never {
  const { outcome, exitCode } = startDaemon(opts);
  finish(outcome, exitCode);
}

/**
 * Starts the daemon (or, with restart, a restart's successor: src/daemon/restart.ts), relays
 * its start-up output and says how the start-up ended; the caller exits with exitCode (finish).
 */
export function startDaemon(
  opts: ParentOptions,
  restart?: SuccessorPlan,
): { outcome: ForkParentOutcome | undefined; exitCode: number } {
  const log = new Logger(opts.name);
  let outcome: ForkParentOutcome;
  try {
    outcome = native().forkParent(
      opts.readyTimeoutMs,
      opts.stopGraceMs,
      EX.OSERR,
      (event) => log.error(announcement(event, opts)),
      restart,
    );
  } catch (e) {
    if (!isSystemError(e)) throw e;
    log.error(cannotStart(e));
    return { outcome: undefined, exitCode: EX.OSERR };
  }
  const [message, exitCode] = ending(outcome, restart?.execPath ?? '/proc/self/exe');
  if (message) log.error(message);
  if (outcome.end !== 'ready' && opts.pidFile && outcome.pid > 0) removeLeftPidFile(opts.pidFile, outcome.pid, log);
  return { outcome, exitCode };
}

/** Exits with code; a cancelled start dies of the same signal, so a shell sees it for what it is. */
export function finish(outcome: ForkParentOutcome | undefined, exitCode: number): never {
  if (outcome?.end === 'cancelled') process.kill(process.pid, outcome.signal);
  process.exit(exitCode);
}

/** What the parent says as it happens, before it acts. */
function announcement(event: ForkParentEvent, opts: ParentOptions): string {
  switch (event) {
    case 'timeout':
      // The wait as given: "1 s", "1.5 s", "0.1 s", never rounded up to a second it was not.
      return `not ready after ${opts.readyTimeoutMs / 1000} s; stopping it (a slow start needs a longer --ready-timeout)`;
    case 'kill-after-grace':
      return `still running ${Math.ceil(opts.stopGraceMs / 1000)} s after SIGTERM: killing it (SIGKILL)`;
    case 'kill-on-cancel':
      return 'cancelled again: killing it (SIGKILL)';
  }
}

/** What the parent says last, and its exit code (ARCHITECTURE.md §1's table). */
function ending(o: ForkParentOutcome, executable: string): [message: string | undefined, exitCode: number] {
  switch (o.end) {
    case 'ready':
      return [undefined, EX.OK];
    case 'failed':
      return [
        `cannot ${o.step === 'exec' ? `re-execute ${executable}` : 'give the daemon /dev/null and the relay pipes as stdio'}: ${o.strerror}`,
        EX.OSERR,
      ];
    case 'exited':
      return o.code === 0
        ? ['exited with code 0 during start-up, before it was ready', EX.SOFTWARE]
        : [`exited with code ${o.code} during start-up`, o.code];
    case 'killed':
      return [`killed by ${signalName(o.signal)}${o.coreDumped ? ' (core dumped)' : ''} during start-up`, EX.SOFTWARE];
    case 'timeout':
      return [undefined, EX.UNAVAILABLE]; // said as it happened
    case 'cancelled':
      return [`start-up cancelled by ${signalName(o.signal)}`, 128 + o.signal];
  }
}

/** No child could be started: what the system refused, and the limit to raise where one is known. */
function cannotStart(e: SystemError): string {
  const hints: Record<string, string> = {
    EMFILE: 'raise the open-file limit (ulimit -n)',
    ENFILE: "the system's open-file table is full; close files or raise fs.file-max",
    EAGAIN: 'the system is short of processes; raise the process limit (ulimit -u)',
    ENOMEM: 'the system is short of memory; free memory',
  };
  // An errno without a text of its own keeps its call: "pipe: No such device (ENODEV)".
  const hint = e.code && hints[e.code] ? `; ${hints[e.code]}` : '';
  return `cannot start the daemon process: ${reason(e)} (${e.code})${hint}`;
}

/** The first name Node gives a number (SIGABRT, not SIGIOT); none for the real-time signals. */
const signalNames = new Map<number, string>();
for (const [name, number] of Object.entries(osConstants.signals))
  if (!signalNames.has(number)) signalNames.set(number, name);

/** "SIGSEGV" for 11, "SIGRTMIN+3", "signal 99" for an unknown number. */
export function signalName(signal: number): string {
  const known = signalNames.get(signal);
  if (known) return known;
  const { sigrtmin, sigrtmax } = native();
  return signal >= sigrtmin && signal <= sigrtmax ? `SIGRTMIN+${signal - sigrtmin}` : `signal ${signal}`;
}

/**
 * A daemon killed during start-up (SIGKILL, a crash, SIGKILL after the stop grace) cannot remove
 * its pid file; the parent, which has reaped it, removes the file if it is unlocked and names it.
 */
function removeLeftPidFile(path: string, pid: number, log: Logger): void {
  try {
    if (native().pidfileRemoveStale(path, pid)) log.info(`removed ${path}, left by the daemon (pid ${pid})`);
  } catch (e) {
    log.warn(`cannot remove ${path}, left by the daemon (pid ${pid}): ${reason(e)}; remove it by hand`);
  }
}
