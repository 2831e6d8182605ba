// Bad input, against every build of the runtime's test daemon: one line naming the problem and the
// fix, the documented exit code, and nothing left behind (no process, no file). Arguments, the
// config, environment, pid and log paths, limits (issue 11). The sample server's config and
// bind errors: test/server/bad-input.ts.
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Case, checkBadInput } from './lib/bad-input';
import { name } from './lib/identity';
import { launchers } from './lib/launchers';

const start = (dir: string, ...more: string[]) => ['--listen', '127.0.0.1:0', '-p', join(dir, 'pid'), ...more];
const help = `; see "${name} --help"$`;

const cases: Case[] = [
  // Arguments: exit 64, before any fork.
  {
    what: 'unknown option',
    setUp: () => ({ args: ['--bogus'] }),
    code: 64,
    line: new RegExp(`Unknown option '--bogus'${help}`),
  },
  {
    what: 'option without its value',
    setUp: () => ({ args: ['--listen'] }),
    code: 64,
    line: /Option '--listen <value>' argument missing/,
  },
  {
    what: 'unknown command',
    setUp: () => ({ args: ['start'] }),
    code: 64,
    line: /unknown command "start" \(the commands are stop, status, reload and restart\)/,
  },
  { what: 'extra argument', setUp: () => ({ args: ['stop', 'now'] }), code: 64, line: /unexpected argument "now"/ },
  {
    what: 'control command with another option',
    setUp: () => ({ args: ['status', '--listen', '1.2.3.4:5'] }),
    code: 64,
    line: /"status" takes only --pidfile, not --listen/,
  },
  {
    what: '--listen not HOST:PORT',
    setUp: () => ({ args: ['--listen', 'nonsense'] }),
    code: 64,
    line: /--listen "nonsense" is not HOST:PORT \(for example/,
  },
  {
    what: '--listen port above 65535',
    setUp: () => ({ args: ['--listen', '127.0.0.1:99999'] }),
    code: 64,
    line: /port 99999 is above 65535/,
  },
  {
    what: '--listen with a newline and a terminal escape: shown escaped',
    setUp: () => ({ args: ['--listen', 'a\nb\u001b[31mc'] }),
    code: 64,
    line: /--listen "a\\nb\\u001b\[31mc" is not HOST:PORT/,
  },
  {
    what: '--listen 5,000 characters long: cut in the message',
    setUp: () => ({ args: ['--listen', 'x'.repeat(5000)] }),
    code: 64,
    line: /^[^\n]{0,300}$/,
  },
  {
    what: '--ready-timeout in hex',
    setUp: () => ({ args: ['--ready-timeout', '0x10'] }),
    code: 64,
    line: /--ready-timeout "0x10" is not a number of seconds: 0 \(no limit\), or 0\.1 to 86400/,
  },
  {
    what: '--ready-timeout with an exponent',
    setUp: () => ({ args: ['--ready-timeout', '1e3'] }),
    code: 64,
    line: /--ready-timeout "1e3" is not a number/,
  },
  {
    what: '--ready-timeout below 0.1 s',
    setUp: () => ({ args: ['--ready-timeout', '0.0001'] }),
    code: 64,
    line: /--ready-timeout "0.0001" is not a number/,
  },
  {
    what: '--ready-timeout above a day',
    setUp: () => ({ args: ['--ready-timeout', '86401'] }),
    code: 64,
    line: /--ready-timeout "86401" is not a number/,
  },
  {
    what: '--ready-timeout empty',
    setUp: () => ({ args: ['--ready-timeout='] }),
    code: 64,
    line: /--ready-timeout "" is not a number/,
  },
  {
    what: '--ready-timeout negative',
    setUp: () => ({ args: ['--ready-timeout=-1'] }),
    code: 64,
    line: /--ready-timeout "-1" is not a number/,
  },
  {
    what: '--pidfile empty',
    setUp: () => ({ args: ['--pidfile', ''] }),
    code: 64,
    line: /--pidfile needs a non-empty value/,
  },
  { what: '--log empty', setUp: () => ({ args: ['--log='] }), code: 64, line: /--log needs a non-empty value/ },
  { what: '--chdir empty', setUp: () => ({ args: ['--chdir='] }), code: 64, line: /--chdir needs a non-empty value/ },
  { what: '--user empty', setUp: () => ({ args: ['--user='] }), code: 64, line: /--user needs a non-empty value/ },
  {
    what: '--group without --user',
    setUp: () => ({ args: ['--group', 'nogroup'] }),
    code: 64,
    line: /--group needs --user/,
  },

  // The config file: exit 78, from the daemon, relayed (the sample's own cases: test/server/).
  {
    what: 'config named but missing',
    setUp: (d) => ({ args: start(d, '-c', join(d, 'missing.toml')) }),
    code: 78,
    line: /missing\.toml: cannot read it: no such file or directory; fix the path/,
  },
  // Pid file paths: exit 73.
  {
    what: 'pid file directory missing',
    setUp: (d) => ({ args: ['--listen', '127.0.0.1:0', '-p', join(d, 'no', 'pid')] }),
    code: 73,
    line: /directory .*\/no does not exist; create it or choose another --pidfile$/,
  },
  {
    what: 'pid file path is a directory',
    setUp: (d) => {
      mkdirSync(join(d, 'run'));
      return { args: ['--listen', '127.0.0.1:0', '-p', join(d, 'run')] };
    },
    code: 73,
    line: new RegExp(
      `refusing pid file .*/run: it is a directory; name a file in it \\(--pidfile .*/run/${name}\\.pid\\)$`,
    ),
  },
  {
    what: 'pid file is a symlink',
    setUp: (d) => {
      writeFileSync(join(d, 'target'), '');
      symlinkSync(join(d, 'target'), join(d, 'pid'));
      return { args: start(d) };
    },
    code: 73,
    line: /refusing pid file .*: it is a symbolic link; remove it or choose another --pidfile$/,
  },
  {
    what: 'pid file is a dangling symlink',
    setUp: (d) => {
      symlinkSync(join(d, 'nowhere'), join(d, 'pid'));
      return { args: start(d) };
    },
    code: 73,
    line: /it is a symbolic link/,
  },
  {
    what: 'pid file is a FIFO',
    setUp: (d) => {
      execFileSync('mkfifo', [join(d, 'pid')]);
      return { args: start(d) };
    },
    code: 73,
    line: /refusing pid file .*: it is not a regular file; remove it/,
  },
  {
    what: 'pid file has another hard link',
    setUp: (d) => {
      writeFileSync(join(d, 'elsewhere'), '123\n');
      linkSync(join(d, 'elsewhere'), join(d, 'pid'));
      return { args: start(d) };
    },
    code: 73,
    line: /refusing pid file .*: it has other hard links; remove it/,
  },
  {
    what: 'pid file under a regular file',
    setUp: (d) => {
      writeFileSync(join(d, 'file'), '');
      return { args: ['--listen', '127.0.0.1:0', '-p', join(d, 'file', 'pid')] };
    },
    code: 73,
    line: /cannot create pid file .*: directory .*\/file does not exist; create it or choose another --pidfile$/,
  },

  // Log file paths: exit 73.
  {
    what: 'log directory missing',
    setUp: (d) => ({ args: start(d, '--log', join(d, 'no', 'log')) }),
    code: 73,
    line: /cannot open log file .*\/no\/log: no such file or directory; fix its directory's permissions or choose another --log$/,
  },
  {
    what: 'log file is a symlink',
    setUp: (d) => {
      writeFileSync(join(d, 'target'), '');
      symlinkSync(join(d, 'target'), join(d, 'log'));
      return { args: start(d, '--log', join(d, 'log')) };
    },
    code: 73,
    line: /refusing log file .*: it is a symbolic link; remove it or choose another --log$/,
  },
  {
    what: 'log file is a directory',
    setUp: (d) => {
      mkdirSync(join(d, 'logdir'));
      return { args: start(d, '--log', join(d, 'logdir')) };
    },
    code: 73,
    line: /refusing log file .*logdir: it is a directory; remove it or choose another --log$/,
  },
  {
    what: 'log file is a FIFO',
    setUp: (d) => {
      execFileSync('mkfifo', [join(d, 'log')]);
      return { args: start(d, '--log', join(d, 'log')) };
    },
    code: 73,
    line: /refusing log file .*: it is not a regular file/,
  },
  {
    what: 'log file has another hard link',
    setUp: (d) => {
      writeFileSync(join(d, 'elsewhere'), '');
      linkSync(join(d, 'elsewhere'), join(d, 'log'));
      return { args: start(d, '--log', join(d, 'log')) };
    },
    code: 73,
    line: /refusing log file .*: it has other hard links/,
  },

  // Working directory, user and group.
  {
    what: '--chdir missing',
    setUp: (d) => ({ args: start(d, '--chdir', join(d, 'nope')) }),
    code: 66,
    line: /cannot change directory to .*\/nope: no such file or directory; create it or choose another --chdir$/,
  },
  {
    what: '--chdir is a file',
    setUp: (d) => {
      writeFileSync(join(d, 'file'), '');
      return { args: start(d, '--chdir', join(d, 'file')) };
    },
    code: 66,
    line: /cannot change directory to .*\/file: .*; create it or choose another --chdir$/,
  },
  {
    what: '--user unknown',
    setUp: (d) => ({ args: start(d, '--user', 'no-such-user-forkd') }),
    code: 67,
    line: /unknown user "no-such-user-forkd" \(.*\); create it or choose another --user$/,
  },
  {
    what: '--group unknown',
    setUp: (d) => ({ args: start(d, '--user', 'nobody', '--group', 'no-such-group-forkd') }),
    code: 67,
    line: /unknown group "no-such-group-forkd" \(.*\); create it or choose another --group$/,
  },

  // Environment.
  // A missing TMPDIR or RUNTIME_DIRECTORY is no longer an error: the executable then loads its
  // addon from the next place (src/daemon/native.ts); test/executable.ts fails every place.
  {
    what: 'socket activation variables naming an fd that is not a socket',
    // The shell sets them for itself and execs the daemon, so LISTEN_PID is the daemon's parent.
    setUp: (d) => ({ args: start(d), limit: 'export LISTEN_PID=$$ LISTEN_FDS=1 && exec 3</dev/null' }),
    code: 78,
    line: /LISTEN_FDS=1, but fd 3 is not a socket; check the socket unit or the activator$/,
  },
  {
    // A marker naming this very process but no ready channel: carrying on would fork again.
    what: 'a ready-channel marker naming this process, with no channel',
    setUp: (d) => ({ args: start(d), limit: 'export FORKD_READY=$$:99' }),
    code: 70,
    line: /FORKD_READY=\d+:99 names this process, but fd 99 is not its ready channel \(.*\); do not set FORKD_READY yourself$/,
  },

  // Limits.
  {
    what: 'open files: ulimit -n 24',
    setUp: (d) => ({ args: start(d), limit: 'ulimit -n 24' }),
    code: 71,
    line: /too many open files \(EMFILE\); raise the open-file limit \(ulimit -n/,
  },
  {
    what: 'open files: ulimit -n 22',
    setUp: (d) => ({ args: start(d), limit: 'ulimit -n 22' }),
    code: 71,
    line: /too many open files \(EMFILE\); raise the open-file limit \(ulimit -n/,
  },
];

for (const launcher of launchers()) checkBadInput(launcher, cases);
