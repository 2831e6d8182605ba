// The command line: help, version, usage errors, docs that match the code, a lean parent path;
// against the runtime's test daemon (test/lib/launchers). The sample's --check-config: test/server/.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { exitCodes, helpText, optionSpecs, options, parseCommandLine } from '../src/cli';
import { type Identity, identity } from '../src/identity';
import { name } from './lib/identity';
import { devBuild } from './lib/launchers';
import { root, run, spawnClean, tempDir, waitFor } from './lib/proc';

const daemon = (...args: string[]) => devBuild.cmd.concat(args);
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string;

t.test('--help lists every option and exit code, on stdout, exit 0', async (t) => {
  const r = await run(daemon('--help'));
  t.equal(r.code, 0);
  t.equal(r.err, '');
  for (const o of optionSpecs) t.match(r.stdout, `--${o.name}`, `--${o.name} documented`);
  for (const [code] of exitCodes) t.match(r.stdout, new RegExp(`^  ${code} `, 'm'), `exit ${code} documented`);
  t.match(r.stdout, /stop\s.*\n\s+status\s.*\n\s+reload\s/);
});

t.test('--version', async (t) => {
  for (const flag of ['--version', '-V']) {
    const r = await run(daemon(flag));
    t.equal(r.code, 0);
    t.equal(r.stdout, `${name} ${version}\n`);
  }
});

t.test('--check-config: 0 and what the server checked, or its error and exit 78; it starts nothing', async (t) => {
  const dir = tempDir(t);
  const good = join(dir, 'good.conf');
  const bad = join(dir, 'bad.conf');
  writeFileSync(good, 'greeting = "hi"\n');
  writeFileSync(bad, 'greeting = hi\n');
  let r = await run(daemon('--check-config', '-c', good, '--listen', '127.0.0.1:1'));
  t.equal(r.code, 0);
  t.equal(r.stdout, `${name}: config ${good} is valid (listen 127.0.0.1:1)\n`);
  t.equal(r.err, '');
  r = await run(daemon('-t', '-c', bad, '--pidfile', join(dir, 'pid')));
  t.equal(r.code, 78, "the server's DaemonError: its exit code");
  t.equal(r.err, `${name}: config ${bad}:1: expected key = "string"\n`);
  t.equal(r.stdout, '');
  r = await run(daemon('-t', '-c', join(dir, 'absent.conf')));
  t.equal(r.code, 78, 'a config file named but absent: 78');
  t.notOk(existsSync(join(dir, 'pid')), 'no pid file: nothing was started');
});

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
    [['start'], 'unknown command "start" (the commands are stop, status and reload)'],
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
  for (const o of optionSpecs) t.match(readme, `--${o.name}`, `--${o.name} in the README`);
  for (const [code] of exitCodes) t.match(readme, new RegExp(`\\| ${code} \\|`), `exit ${code} in the README`);
  const [first, second] = [...readme.matchAll(/^```sh\n([\s\S]*?)```/gm)].map((m) => m[1].trim());
  // npm ci where the lock file is committed (forkd); npm install in a project just generated.
  t.match(
    first,
    /^npm (ci|install) && npm run build && node dist\/main\.js --foreground$/,
    'opens with set up and run',
  );
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
  const modules = by(parentPid).filter((l) => /\.js", .*= \d+$/.test(l)).length;
  t.ok(modules > 0 && modules < 15, `the parent opened ${modules} JavaScript files`);
});
