// The command line: one table of options that drives parseArgs, --help (and the man page).
import { constants } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAddress } from './daemon/address';
import type { ControlCommand } from './daemon/control';
import { CHDIR, READY_TIMEOUT_MS } from './daemon/defaults';
import { DaemonError, EX, quoted } from './daemon/exit-codes';
import type { Identity } from './identity';

interface OptionSpec {
  name: string;
  short?: string;
  /** Placeholder of the option's value; none for a flag. */
  value?: string;
  help: (id: Identity) => string;
  /** Only for a daemon that listens (`forkd.listen` set); a worker has no such option. */
  listening?: true;
}

export const optionSpecs: OptionSpec[] = [
  { name: 'config', short: 'c', value: 'FILE', help: (id) => `configuration file (default: ${id.config})` },
  {
    name: 'pidfile',
    short: 'p',
    value: 'FILE',
    help: (id) => `pid file (default: ${id.pidfile}; with --foreground, none unless given)`,
  },
  {
    name: 'listen',
    value: 'HOST:PORT',
    listening: true,
    help: () => 'address to serve on, overriding the config file (port 0: any free port)',
  },
  {
    name: 'log',
    value: 'TARGET',
    help: () =>
      'where stdout and stderr go once ready: FILE, syslog (/dev/log) or none (default: syslog if /dev/log answers, else none with a warning; with --foreground, they stay)',
  },
  { name: 'chdir', value: 'DIR', help: () => `working directory of the daemon (default: ${CHDIR})` },
  {
    name: 'ready-timeout',
    value: 'SEC',
    help: () =>
      `stop the start and exit 69 if not ready within SEC seconds (default: ${READY_TIMEOUT_MS / 1000}; 0: no limit; else 0.1-86400)`,
  },
  {
    name: 'user',
    short: 'u',
    value: 'USER',
    help: (id) =>
      id.listen !== undefined
        ? 'started as root: become USER once listening (ports below 1024 still work)'
        : 'started as root: become USER once started, before it is ready',
  },
  { name: 'group', short: 'g', value: 'GROUP', help: () => "with --user: this group instead of the user's own" },
  { name: 'foreground', short: 'f', help: () => 'do not fork: stay attached, log to stderr (systemd, containers)' },
  {
    name: 'check-config',
    short: 't',
    help: (id) =>
      `check the configuration (${id.listen !== undefined ? 'file and --listen' : 'file'}) and exit: 0 valid, 78 not; reload uses it`,
  },
  { name: 'help', short: 'h', help: () => 'show this help and exit' },
  { name: 'version', short: 'V', help: () => 'show the version and exit' },
];

/** The options of this daemon: --listen only if it listens. */
export function options(id: Identity): OptionSpec[] {
  return optionSpecs.filter((o) => !o.listening || id.listen !== undefined);
}

export const exitCodes: [number, string][] = [
  [EX.OK, 'started: the daemon is ready and serving (or: stopped cleanly)'],
  [EX.USAGE, 'bad command line (or dist/main.js run on a Node other than the pinned one)'],
  [EX.NOINPUT, 'the --chdir directory cannot be entered'],
  [EX.NOUSER, 'the --user or --group does not exist'],
  [
    EX.UNAVAILABLE,
    'service unavailable: address in use, already running, not ready within --ready-timeout, or --log syslog and no syslog',
  ],
  [EX.SOFTWARE, 'the daemon crashed during start-up (killed by a signal), or an internal error'],
  [EX.OSERR, 'the system refused a pipe, a fork or the re-exec, or the native addon cannot be loaded'],
  [EX.CANTCREAT, 'the pid file or log file cannot be created, or is a link, a directory or not a regular file'],
  [EX.NOPERM, 'permission denied (a port below 1024 without privilege; --user when not root)'],
  [EX.CONFIG, 'configuration error'],
  [
    128 + constants.signals.SIGINT,
    'start-up cancelled by Ctrl-C (the parent dies of the same signal: 128 + its number)',
  ],
];

export const controlCodes: [string, string][] = [
  [
    'stop',
    'SIGTERM, then wait until it has exited: 0 stopped or not running, 1 still running or not proven to be the daemon, 4 no permission',
  ],
  ['status', '0 running, 1 not running but the pid file exists, 3 not running, 4 unknown'],
  [
    'reload',
    'SIGHUP: re-read the config, reopen the log file: 0 asked, 1 not proven to be the daemon, 4 no permission, 7 not running',
  ],
  [
    'restart',
    "start a new daemon with these options from the executable's file, on the running one's sockets, then stop the old one: 0 replaced, 7 not running, 1 not proven to be the daemon or not restartable, 4 no permission, 150 its server binds its own sockets (stop, then start); if the new one fails to start, the old one serves on and the exit status is the start's",
  ],
];

/** The commands this daemon has: restart hands listening sockets over, so only one that listens. */
export function commands(id: Identity): [string, string][] {
  return controlCodes.filter(([c]) => c !== 'restart' || id.listen !== undefined);
}

export function helpText(id: Identity): string {
  const rows = options(id).map((o) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${o.name}${o.value ? ` ${o.value}` : ''}`;
    return `  ${flag.padEnd(26)}${o.help(id)}`;
  });
  return [
    `Usage: ${id.name} [options]`,
    `       ${id.name} stop|status|reload [--pidfile FILE]`,
    ...(id.listen !== undefined ? [`       ${id.name} restart [options]`] : []),
    `       ${id.name} --check-config [--config FILE]${id.listen !== undefined ? ' [--listen HOST:PORT]' : ''}`,
    '',
    `${id.description}.`,
    `Without --foreground, ${id.name} forks: this command prints the daemon's start-up messages and`,
    'returns only once it serves, or with the reason it could not start.',
    '',
    'Options:',
    ...rows,
    '',
    'Commands (through the pid file; LSB exit codes):',
    ...commands(id).map(([c, h]) => `  ${c.padEnd(9)}${h}`),
    '',
    'Exit status:',
    ...exitCodes.map(([n, h]) => `  ${String(n).padEnd(5)}${h}`),
    '  N    the daemon exited with code N during start-up',
    '',
  ].join('\n');
}

export interface RunOptions {
  foreground: boolean;
  /** Absolute path; `configGiven` says whether the user named it. */
  config: string;
  configGiven: boolean;
  pidFile?: string;
  listen?: string;
  logFile?: string;
  /** Undefined: daemonize()'s defaults (src/daemon/defaults.ts). */
  chdir?: string;
  readyTimeoutMs?: number;
  user?: string;
  group?: string;
}

export type CommandLine =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'control'; command: ControlCommand; pidFile: string }
  /** argFromEnd: where the word "restart" is, counted from the end of the command line (1: last). */
  | { kind: 'restart'; options: RunOptions; argFromEnd: number }
  | { kind: 'check'; options: RunOptions }
  | { kind: 'run'; options: RunOptions };

/** Parses argv (without node and script). Throws a DaemonError (exit 64) for bad usage. */
export function parseCommandLine(argv: string[], id: Identity): CommandLine {
  const specs = Object.fromEntries(
    options(id).map((o) => [o.name, { type: o.value ? 'string' : 'boolean', ...(o.short ? { short: o.short } : {}) }]),
  ) as Record<string, { type: 'string' | 'boolean'; short?: string }>;
  let parsed: {
    values: Record<string, string | boolean | undefined>;
    positionals: string[];
    tokens: { kind: string; index: number }[];
  };
  try {
    parsed = parseArgs({ args: argv, options: specs, allowPositionals: true, strict: true, tokens: true });
  } catch (e) {
    // parseArgs explains over several lines; keep one.
    const text = (e as Error).message.replace(/\s*To specify a positional.*$/s, '').replace(/\.?\s*\n\s*/g, '; ');
    throw usage(id, text.replace(/\.$/, ''));
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const str = (name: string) => v[name] as string | undefined;
  if (v.help) return { kind: 'help' };
  if (v.version) return { kind: 'version' };

  const [command, ...extra] = parsed.positionals;
  if (extra.length > 0) throw usage(id, `unexpected argument ${quoted(extra[0])}`);
  if (command !== undefined) {
    if (command !== 'stop' && command !== 'status' && command !== 'reload' && command !== 'restart')
      throw usage(id, `unknown command ${quoted(command)} (the commands are stop, status, reload and restart)`);
    if (command !== 'restart') {
      const others = Object.keys(v).filter((k) => k !== 'pidfile' && v[k] !== undefined);
      if (others.length > 0) throw usage(id, `"${command}" takes only --pidfile, not --${others[0]}`);
      return { kind: 'control', command, pidFile: absolute(id, 'pidfile', str('pidfile')) ?? id.pidfile };
    }
    if (id.listen === undefined)
      throw usage(id, `"restart" hands listening sockets over, and ${id.name} listens on none: stop it, then start it`);
    // restart [options]: the new daemon's command line is this one without the word "restart".
    for (const o of ['foreground', 'check-config'])
      if (v[o]) throw usage(id, `"restart" replaces a forked daemon and takes no --${o}`);
    const at = parsed.tokens.find((k) => k.kind === 'positional')!.index;
    return { kind: 'restart', options: runOptions(id, v), argFromEnd: argv.length - at };
  }
  return { kind: v['check-config'] ? 'check' : 'run', options: runOptions(id, v) };
}

/** The options of a start (and of a restart's new daemon), checked. */
function runOptions(id: Identity, v: Record<string, string | boolean | undefined>): RunOptions {
  const str = (name: string) => v[name] as string | undefined;
  const listen = str('listen');
  if (listen !== undefined) {
    try {
      parseAddress(listen);
    } catch (e) {
      throw usage(id, `--listen ${(e as Error).message}`);
    }
  }
  const foreground = v.foreground === true;
  if (str('group') !== undefined && str('user') === undefined) throw usage(id, '--group needs --user');
  for (const o of ['user', 'group']) if (str(o) === '') throw usage(id, `--${o} needs a non-empty value`);
  const config = absolute(id, 'config', str('config'));
  return {
    foreground,
    config: config ?? id.config,
    configGiven: config !== undefined,
    pidFile: absolute(id, 'pidfile', str('pidfile')) ?? (foreground ? undefined : id.pidfile),
    listen,
    logFile: logTarget(id, str('log')),
    chdir: absolute(id, 'chdir', str('chdir')),
    readyTimeoutMs: seconds(id, str('ready-timeout')),
    user: str('user'),
    group: str('group'),
  };
}

function usage(id: Identity, message: string): DaemonError {
  return new DaemonError(`${message}; see "${id.name} --help"`, EX.USAGE);
}

/** Paths are resolved before the fork: the daemon works in --chdir, not where it was started. */
function absolute(id: Identity, option: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value === '') throw usage(id, `--${option} needs a non-empty value`);
  return resolve(value);
}

/** --log: the keywords syslog and none, or a path (./syslog for a file of that name). */
function logTarget(id: Identity, value: string | undefined): string | undefined {
  return value === 'syslog' || value === 'none' ? value : absolute(id, 'log', value);
}

/** Decimal seconds: 0 (no limit), or 0.1 to 86400; no hex, exponent or sign. */
function seconds(id: Identity, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || (n !== 0 && n < 0.1) || n > 86_400)
    throw usage(id, `--ready-timeout ${quoted(value)} is not a number of seconds: 0 (no limit), or 0.1 to 86400`);
  return Math.round(n * 1000);
}
