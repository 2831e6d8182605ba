// The sample worker (src/server/): its rounds of work, its config file, reload and graceful stop,
// against the project's own builds, dist/main.js and out/NAME. A sample test: replace it with
// your server's.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { name } from '../lib/identity';
import { productLaunchers } from '../lib/launchers';
import { alive, processesMentioning, run, tempDir, waitFor } from '../lib/proc';

const round = (file: string) =>
  existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { round: number; pid: number }).round : 0;

for (const launcher of productLaunchers()) {
  const daemon = (...args: string[]) => launcher.cmd.concat(args);

  t.test(`${launcher.name}: works every interval, reloads, stops, and has no --listen`, async (t) => {
    const dir = tempDir(t);
    const config = join(dir, 'c.toml');
    const pidFile = join(dir, 'pid');
    const [first, second] = [join(dir, 'first.json'), join(dir, 'second.json')];
    writeFileSync(config, `interval = 0.1\noutput = "${first}"\n`);
    const r = await run(daemon('-c', config, '-p', pidFile, '--log', join(dir, 'log')));
    t.equal(r.code, 0, r.err);
    t.ok(round(first) >= 1, 'the first round ran before ready');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    t.equal(JSON.parse(readFileSync(first, 'utf8')).pid, pid, 'by the daemon');
    await waitFor('three rounds', () => round(first) >= 3);

    writeFileSync(config, `interval = 0.1\noutput = "${second}"\n`);
    t.equal((await run(daemon('reload', '-p', pidFile))).code, 0);
    await waitFor('a round into the new output', () => round(second) >= 1);

    t.equal((await run(daemon('stop', '-p', pidFile))).code, 0);
    t.notOk(alive(pid), 'stopped');
    const last = round(second);
    await new Promise((r) => setTimeout(r, 300));
    t.equal(round(second), last, 'no round after the stop');
    t.match(readFileSync(join(dir, 'log'), 'utf8'), /reloaded[\s\S]*stopped\n$/);

    const listen = await run(daemon('--listen', '127.0.0.1:0', '-p', pidFile));
    t.equal(listen.code, 64, 'a worker has no --listen');
    t.match(listen.err, `${name}: Unknown option '--listen'`);
    t.notMatch((await run(daemon('--help'))).stdout, '--listen', 'nor does its --help');
  });

  t.test(`${launcher.name}: a bad config or an output it cannot write: one line, exit 78 or 73`, async (t) => {
    const dir = tempDir(t);
    const config = join(dir, 'c.toml');
    writeFileSync(config, 'interval = 0\n');
    let r = await run(daemon('-c', config, '-p', join(dir, 'pid')));
    t.equal(r.code, 78, r.err);
    t.match(r.err, /interval must be a number of seconds from 0\.1 to 86400, not 0/);
    writeFileSync(config, 'interval = "soon"\n');
    r = await run(daemon('-t', '-c', config));
    t.equal(r.code, 78, '--check-config says the same');
    writeFileSync(config, `output = "${join(dir, 'no', 'such', 'dir', 'out')}"\n`);
    r = await run(daemon('-c', config, '-p', join(dir, 'pid')));
    t.equal(r.code, 73, r.err);
    t.match(r.err, /cannot write .*: no such file or directory; fix output in the config/);
    t.notOk(existsSync(join(dir, 'pid')), 'no pid file');
    t.same(processesMentioning(dir), [], 'no process');
  });
}
