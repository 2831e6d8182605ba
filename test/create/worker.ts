// The split between the runtime's tests and the sample's, proved: a project generated with
// --template worker has a server with no socket in src/server/ and the worker's own tests in
// test/server/. Built as a user builds it, the runtime's tests (unchanged, the ones that start
// the daemon) pass in it, and so do the worker's, against dist/main.js and out/NAME; its
// packaging has no .socket unit and its --help no --listen.
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { root, run, tempDir } from '../lib/proc';
import { create } from './lib';

// The nested build and test run take minutes.
t.setTimeout(30 * 60_000);

/** The runtime's tests that start the daemon: each of them ran the sample before the split. */
const runtimeTests = ['cli', 'lifecycle', 'bad-input', 'safety', 'systemd', 'packaging-description'].map(
  (f) => `test/${f}.ts`,
);

t.test("a worker in place of the sample: the runtime's tests pass unchanged, and the worker's own", async (t) => {
  const dir = tempDir(t);
  const made = await create(['work', '--name', 'workd', '--template', 'worker', '--yes', '--no-install', '--no-git'], {
    cwd: dir,
  });
  t.equal(made.code, 0, made.err);
  const project = join(dir, 'work');
  // This checkout's packages, as npm install would give them (offline, and minutes faster).
  symlinkSync(join(root, 'node_modules'), join(project, 'node_modules'));
  const ok = (r: { code: number | null; stdout: string; err: string }, what: string) =>
    t.equal(
      r.code,
      0,
      r.code === 0 ? what : `${what}: exit ${r.code}\n${r.stdout.slice(-4000)}\n${r.err.slice(-3000)}`,
    );

  ok(await run(['npm', 'run', 'build'], { cwd: project, timeoutMs: 15 * 60_000 }), 'npm run build');
  const help = await run([join(project, 'out', 'workd'), '--help']);
  t.equal(help.code, 0);
  t.notMatch(help.stdout, '--listen', 'out/workd --help: no --listen');

  const tested = await run(['npx', 'tap', ...runtimeTests, 'test/server/worker.ts'], {
    cwd: project,
    timeoutMs: 25 * 60_000,
  });
  ok(tested, `npx tap ${runtimeTests.join(' ')} test/server/worker.ts`);
  const summary = /^# \{ total: (\d+), pass: (\d+)(?:, fail: (\d+))?/m.exec(tested.stdout);
  t.ok(summary && !summary[3], `all passed: ${summary?.[0]}`);
  for (const f of [...runtimeTests, 'test/server/worker.ts'])
    t.match(tested.stdout, new RegExp(`^ok \\d+ - ${f.replace('.', '\\.')} `, 'm'), `${f} passed`);
});
