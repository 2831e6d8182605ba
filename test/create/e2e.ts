// End to end, the way `npm create forkd-app` runs the generator: from the packed tarball. The new
// project gets the user's work and is updated to a next version of the generator (--update);
// then it must run its README's commands, pass its own tests (the whole suite, nested, the test
// the update added included), daemonise and serve as out/acmed, and package itself, without a
// trace of the reference name.
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { name as referenceName } from '../lib/identity';
import { get, listenerPids, portFrom, run, spawnClean, tempDir } from '../lib/proc';
import { changedRuntimeFile, forgetNpx, gitIdentity, mentioning, twoVersions, v2Marker } from './lib';

// The nested build and test suite take minutes; tell tap's runner this file may take 45.
t.setTimeout(45 * 60_000);
const minutes = (n: number) => ({ timeoutMs: n * 60_000 });

t.test(
  'npm pack, npm exec create-forkd-app, update it to a next version, then build, test, run and package the project',
  async (t) => {
    const dir = tempDir(t);
    const env = gitIdentity(dir);
    const project = join(dir, 'acme');
    // Exit 0, or the end of what the step said.
    const ok = (r: { code: number | null; stdout: string; err: string }, what: string) =>
      t.equal(
        r.code,
        0,
        r.code === 0 ? what : `${what}: exit ${r.code}\n${r.stdout.slice(-3000)}\n${r.err.slice(-3000)}`,
      );

    // This package packed, and a second version of it with a runtime change, for the update.
    const { v1: tarball, v2, v2Version } = await twoVersions(dir);
    t.teardown(() => [tarball, v2].forEach(forgetNpx));

    const made = await run(
      ['npm', 'exec', '--yes', `--package=${tarball}`, '--', 'create-forkd-app', project, '--name', 'acmed', '--yes'],
      {
        cwd: dir,
        env,
        ...minutes(15),
      },
    );
    ok(made, 'npm exec create-forkd-app');
    t.same(
      mentioning(project, referenceName, ['node_modules']),
      [],
      `grep -ri ${referenceName}: nothing, as generated`,
    );
    const git = (...args: string[]) => execFileSync('git', args, { cwd: project, encoding: 'utf8' });
    t.equal(git('rev-list', '--count', 'HEAD'), '1\n', 'one commit');
    t.equal(git('status', '--porcelain'), '', 'package-lock.json and all committed, node_modules ignored');

    // The user's work, committed; then the update to v2, the way its README says, which installs.
    appendFileSync(join(project, 'src', 'server', 'index.ts'), '// my own route goes here\n');
    appendFileSync(join(project, 'src', 'daemon', 'logger.ts'), '// my local note\n');
    const added = await run(['npm', 'install', '--no-audit', '--no-fund', '--save-exact', 'ms@2.1.3'], {
      cwd: project,
      ...minutes(5),
    });
    ok(added, 'npm install ms (a dependency of the user)');
    git('commit', '-qam', 'my server');
    const updated = await run(
      ['npm', 'exec', '--yes', `--package=${v2}`, '--', 'create-forkd-app', '--update', '--from', tarball],
      { cwd: project, env, ...minutes(10) },
    );
    ok(updated, `npm exec create-forkd-app@${v2Version} -- --update`);
    t.ok(
      readFileSync(join(project, changedRuntimeFile), 'utf8').startsWith(`${v2Marker(v2Version)}\n`),
      'the runtime change is in',
    );
    t.ok(existsSync(join(project, 'test', 'added-in-v2.ts')), "v2's new runtime test is in (and must pass below)");
    t.match(
      readFileSync(join(project, 'src', 'server', 'index.ts'), 'utf8'),
      /my own route goes here\n$/,
      'the server is intact',
    );
    t.match(
      readFileSync(join(project, 'src', 'daemon', 'logger.ts'), 'utf8'),
      /my local note\n$/,
      'the local runtime edit is kept',
    );
    t.equal(
      JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')).dependencies.ms,
      '2.1.3',
      'the dependency is kept',
    );
    t.ok(existsSync(join(project, 'node_modules', 'ms')), 'and installed');

    // The README opens with its two commands; run them as written.
    const readme = readFileSync(join(project, 'README.md'), 'utf8');
    const [setUp, test] = [...readme.matchAll(/^```sh\n([\s\S]*?)```/gm)].map((m) => m[1].trim());
    t.equal(test, 'npm test', 'the second is npm test');

    await t.test(
      `the README's first command builds and serves on 127.0.0.1:8080, in a network namespace of its own`,
      { skip: process.getuid!() !== 0 && 'unshare -n needs root' },
      async (t) => {
        // Its last step, the server, runs in a private network namespace: its fixed port 8080 is
        // never bound on this machine. The steps before it (npm install, the build) run as written.
        const steps = setUp.split(' && ');
        const serve = steps.pop()!;
        const built = await run(['sh', '-c', steps.join(' && ')], { cwd: project, ...minutes(15) });
        ok(built, steps.join(' && '));
        // npm runs on the pinned Node here (npm test's PATH): no dependency's engines may complain.
        t.notMatch(`${built.stdout}${built.err}`, /EBADENGINE/, 'no EBADENGINE warning on the pinned Node');
        // "npm start": npm runs "exec node dist/main.js --foreground" and passes SIGTERM on to it.
        const child = spawnClean(
          ['unshare', '-n', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', ...serve.split(' ')],
          { cwd: project, stdio: 'ignore' },
        );
        const ended = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
        t.teardown(() => child.kill('SIGKILL'));
        const netns = (pid: number) => readlinkSync(`/proc/${pid}/ns/net`);
        const ours = netns(process.pid);
        // GET / from inside its namespace, with this same Node.
        const getInside = () =>
          run([
            'nsenter',
            '-t',
            String(child.pid),
            '-n',
            process.execPath,
            '-e',
            "fetch('http://127.0.0.1:8080/').then((r) => r.text()).then((b) => process.stdout.write(b), () => {})",
          ]).then((r) => r.stdout);
        let body = '';
        for (const deadline = Date.now() + 2 * 60_000; !body && Date.now() < deadline; ) {
          if (netns(child.pid!) !== ours) body = await getInside();
          if (!body) await new Promise((r) => setTimeout(r, 500));
        }
        t.equal(body, 'Hello from acmed!\n', 'it answers on 8080 in its namespace');
        t.same(
          listenerPids(8080).filter((p) => netns(p) !== ours),
          [],
          'nothing it started listens on 8080 here',
        );
        child.kill('SIGTERM');
        t.equal(await ended, 0, 'SIGTERM stops it cleanly');
      },
    );

    const tested = await run(['sh', '-c', test], { cwd: project, ...minutes(30) });
    const summary = /^# \{ total: (\d+), pass: (\d+)(?:, fail: (\d+))?/m.exec(tested.stdout);
    ok(tested, 'npm test in the project');
    t.ok(summary && !summary[3], `the project's own suite passes: ${summary?.[0]}`);
    // Every test file the project has ran and passed (not a count that any few files could reach).
    const files = readdirSync(join(project, 'test')).filter((f) => f.endsWith('.ts'));
    t.same(
      files.filter((f) => !new RegExp(`^ok \\d+ - test/${f.replace('.', '\\.')} `, 'm').test(tested.stdout)),
      [],
      `each of its ${files.length} test files passed`,
    );

    const exe = join(project, 'out', 'acmed');
    const pidFile = join(dir, 'acmed.pid');
    const started = await run([exe, '--listen', '127.0.0.1:0', '--pidfile', pidFile], minutes(1));
    ok(started, 'out/acmed daemonises');
    t.equal((await get(portFrom(started.err))).body, 'Hello from acmed!\n', 'out/acmed daemonised and serves');
    t.equal((await run([exe, 'stop', '--pidfile', pidFile])).code, 0, 'and stops');
    t.notOk(existsSync(pidFile), 'its pid file removed');

    const packaged = await run(['npm', 'run', 'package'], { cwd: project, ...minutes(10) });
    ok(packaged, 'npm run package');
    const debs = readdirSync(join(project, 'out')).filter((f) => /^acmed_.*\.deb$/.test(f));
    t.same(debs, ['acmed_0.1.0_amd64.deb']);
    t.equal(
      execFileSync('dpkg-deb', ['-f', join(project, 'out', debs[0]), 'Package', 'Maintainer'], { encoding: 'utf8' }),
      'Package: acmed\nMaintainer: Acme Tester <tester@acme.example.org>\n',
    );
    // Now out/ holds Node itself, whose OpenSSL says "ServerHelloDone": look for the word only.
    t.same(
      mentioning(project, referenceName, ['node_modules'], true),
      [],
      `grep -riw ${referenceName}: nothing, after build, test and package`,
    );
  },
);
