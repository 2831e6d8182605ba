// Bad input, against every build: one line naming the problem and the fix, the documented exit
// code, and nothing left behind (no process, no file). Arguments, config, environment, pid and
// log paths, limits (issue 11).
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { name } from './lib/identity';
import { launchers, singleExecutable } from './lib/launchers';
import { processesMentioning, run, tempDir } from './lib/proc';

interface Case {
  what: string;
  /** Prepares dir; returns the daemon's arguments (and environment, and a shell prefix for limits). */
  setUp: (
    dir: string,
  ) =>
    | { args: string[]; env?: NodeJS.ProcessEnv; limit?: string }
    | Promise<{ args: string[]; env?: NodeJS.ProcessEnv; limit?: string }>;
  code: number;
  /** The problem and the fix, on the first line. */
  line: RegExp;
  /** Only where the executable extracts its addon (the single executable). */
  seaOnly?: boolean;
}

const start = (dir: string, ...more: string[]) => ['--listen', '127.0.0.1:0', '-p', join(dir, 'pid'), ...more];
const config = (dir: string, text: string | Buffer) => {
  writeFileSync(join(dir, 'c.toml'), text);
  return { args: start(dir, '-c', join(dir, 'c.toml')) };
};
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

  // The config file: exit 78, from the daemon, relayed.
  {
    what: 'config: TOML syntax error',
    setUp: (d) => config(d, 'greeting = "open\n'),
    code: 78,
    line: /config .*c\.toml:1:\d+: .*; fix the TOML syntax$/,
  },
  {
    what: 'config: wrong type',
    setUp: (d) => config(d, 'greeting = 42\n'),
    code: 78,
    line: /greeting must be a string, not a number; put it in quotes$/,
  },
  {
    what: 'config: unknown setting',
    setUp: (d) => config(d, 'greting = "hi"\n'),
    code: 78,
    line: /unknown setting "greting"; the settings are listen, greeting$/,
  },
  {
    what: 'config: not UTF-8',
    setUp: (d) => config(d, Buffer.from([...Buffer.from('greeting = "caf'), 0xe9, ...Buffer.from('"\n')])),
    code: 78,
    line: /c\.toml: not valid UTF-8 \(byte 16 of the file\); TOML files must be UTF-8/,
  },
  {
    what: 'config: listen not HOST:PORT',
    setUp: (d) => config(d, 'listen = "here"\n'),
    code: 78,
    line: /listen "here" is not HOST:PORT/,
  },
  {
    what: 'config: listen empty',
    setUp: (d) => config(d, 'listen = ""\n'),
    code: 78,
    line: /listen "" is not HOST:PORT/,
  },
  {
    what: 'config: listen port above 65535',
    setUp: (d) => config(d, 'listen = "127.0.0.1:70000"\n'),
    code: 78,
    line: /port 70000 is above 65535/,
  },
  {
    what: 'config: a table',
    setUp: (d) => config(d, '[greeting]\nx = 1\n'),
    code: 78,
    line: /greeting must be a string, not a table/,
  },
  {
    what: 'config named but missing',
    setUp: (d) => ({ args: start(d, '-c', join(d, 'missing.toml')) }),
    code: 78,
    line: /missing\.toml: cannot read it: no such file or directory; fix the path/,
  },
  {
    what: 'config is a directory',
    setUp: (d) => {
      mkdirSync(join(d, 'conf.d'));
      return { args: start(d, '-c', join(d, 'conf.d')) };
    },
    code: 78,
    line: /conf\.d: cannot read it: is a directory; fix the path/,
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

  // The address.
  {
    what: 'address in use',
    setUp: async (d) => {
      const blocker = createServer();
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
      const port = (blocker.address() as AddressInfo).port;
      setTimeout(() => blocker.close(), 20_000).unref();
      writeFileSync(join(d, 'c.toml'), ''); // a config file: no "using the defaults" line first
      return { args: ['--listen', `127.0.0.1:${port}`, '-p', join(d, 'pid'), '-c', join(d, 'c.toml')] };
    },
    code: 69,
    line: /cannot bind 127\.0\.0\.1:\d+: address in use; stop the other server or choose another --listen$/,
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

/** Every path under dir, to see that a failed start added nothing. */
function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

for (const launcher of launchers()) {
  t.test(`${launcher.name}: ${cases.length} kinds of bad input`, async (t) => {
    const applicable = cases.filter((c) => !c.seaOnly || launcher === singleExecutable);
    t.comment(`${applicable.length} cases`);
    for (const c of applicable) {
      t.test(c.what, async (t) => {
        const dir = tempDir(t);
        const { args, env, limit } = await c.setUp(dir);
        const before = listing(dir);
        const argv = launcher.cmd.concat(args);
        const r = limit
          ? await run(['sh', '-c', `${limit} && exec "$@"`, 'sh', ...argv], { env, cwd: dir })
          : await run(argv, { env, cwd: dir });
        const lines = r.err.split('\n').slice(0, -1);
        t.equal(r.code, c.code, `exit ${c.code}`);
        t.match(lines[0] ?? '', c.line, 'the first line names the problem and the fix');
        t.ok(lines[0]?.startsWith(`${name}: `), 'from the daemon, by name');
        // A failure inside the daemon is followed by the parent's own closing line only.
        const rest = lines.slice(1);
        t.ok(
          rest.length === 0 || (rest.length === 1 && rest[0] === `${name}: exited with code ${c.code} during start-up`),
          `one line, and at most the parent's closing line (got ${JSON.stringify(r.err.slice(0, 400))})`,
        );
        t.notOk(r.err.includes('\u001b'), 'no raw terminal escape');
        t.equal(r.stdout, '', 'nothing on stdout');
        t.same(processesMentioning(dir), [], 'no process left');
        t.same(listing(dir), before, 'no file left');
      });
    }
  });
}
