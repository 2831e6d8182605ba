// The sample server (src/server/): its HTTP answers, its config file, its reload and its graceful
// stop under load, against the project's own builds, dist/main.js and out/NAME. A sample test:
// replace it with your server's. Load only on loopback, bounded in time.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import t from 'tap';
import { name } from '../lib/identity';
import { productExecutable, productLaunchers } from '../lib/launchers';
import { startLoad } from '../lib/load';
import { alive, get, listenerPids, portFrom, processesMentioning, run, tempDir, waitFor } from '../lib/proc';

const greeting = `Hello from ${name}!`;

/** An HTTP request with any method; resolves to the status and the Allow header. */
function send(port: number, method: string, path: string): Promise<{ status: number; allow?: string }> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      res.resume();
      res.on('end', () => done({ status: res.statusCode ?? 0, allow: res.headers.allow }));
    });
    req.on('error', fail);
    req.end();
  });
}

for (const launcher of productLaunchers()) {
  const daemon = (...args: string[]) => launcher.cmd.concat(args);

  t.test(`${launcher.name}: GET / greets, /healthz says ok, other paths and methods are refused`, async (t) => {
    const dir = tempDir(t);
    const pidFile = join(dir, 'pid');
    const r = await run(daemon('--listen', '127.0.0.1:0', '-p', pidFile));
    t.equal(r.code, 0, r.err);
    const port = portFrom(r.err);
    t.equal((await get(port)).body, `${greeting}\n`);
    const health = await get(port, '/healthz');
    t.equal(health.status, 200);
    t.match(JSON.parse(health.body), { status: 'ok', pid: Number(readFileSync(pidFile, 'utf8')) });
    t.equal((await get(port, '/nope')).status, 404);
    t.same(await send(port, 'POST', '/'), { status: 405, allow: 'GET, HEAD' });
    t.equal((await run(daemon('stop', '-p', pidFile))).code, 0);
  });

  t.test(`${launcher.name}: a reload serves the new greeting`, async (t) => {
    const dir = tempDir(t);
    const config = join(dir, 'c.toml');
    writeFileSync(config, 'listen = "127.0.0.1:0"\ngreeting = "first"\n');
    const r = await run(daemon('-c', config, '-p', join(dir, 'pid'), '--log', join(dir, 'log')));
    t.equal(r.code, 0, r.err);
    const port = portFrom(r.err);
    t.equal((await get(port)).body, 'first\n');
    writeFileSync(config, 'listen = "127.0.0.1:0"\ngreeting = "second"\n');
    t.equal((await run(daemon('reload', '-p', join(dir, 'pid')))).code, 0);
    await waitFor('reloaded in the log', () => readFileSync(join(dir, 'log'), 'utf8').includes('reloaded'));
    t.equal((await get(port)).body, 'second\n');
    t.equal((await run(daemon('stop', '-p', join(dir, 'pid')))).code, 0);
  });

  t.test('a wrong type and an unknown setting in the config: exit 78, one line each', async (t) => {
    const dir = tempDir(t);
    const config = join(dir, 'c.toml');
    writeFileSync(config, 'greeting = 42\n');
    let r = await run(daemon('-c', config, '-p', join(dir, 'pid')));
    t.equal(r.code, 78);
    t.match(r.err, new RegExp(`^${name}: config .*: greeting must be a string, not a number; put it in quotes$`, 'm'));
    writeFileSync(config, 'greting = "hi"\n');
    r = await run(daemon('-c', config, '--foreground'));
    t.equal(r.code, 78, 'the same in the foreground');
    t.match(r.err, 'unknown setting "greting"; the settings are listen, greeting');
    r = await run(daemon('-c', join(dir, 'missing.toml'), '-f'));
    t.equal(r.code, 78, 'a config file named on the command line must exist');
    t.match(r.err, 'missing.toml: cannot read it: no such file or directory');
    t.notOk(existsSync(join(dir, 'pid')));
    t.same(processesMentioning(dir), []);
  });
}

t.test('load: SIGHUP every 500 ms under 50 connections fails no request', async (t) => {
  const dir = tempDir(t);
  const config = join(dir, 'c.toml');
  writeFileSync(config, 'listen = "127.0.0.1:0"\ngreeting = "v0"\n');
  const r = await run([...productExecutable.cmd, '-c', config, '-p', join(dir, 'pid')]);
  t.equal(r.code, 0, r.err);
  const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
  const load = startLoad(portFrom(r.err), 50);
  for (let i = 1; i <= 8; i++) {
    await new Promise((res) => setTimeout(res, 500));
    writeFileSync(config, `listen = "127.0.0.1:0"\ngreeting = "v${i}"\n`);
    process.kill(pid, 'SIGHUP');
  }
  await new Promise((res) => setTimeout(res, 500));
  await load.stop();
  const failed = load.outcomes.filter((o) => !o.ok);
  t.comment(`SIGHUP x8 in ${load.now()} ms: ${load.outcomes.length} requests, ${failed.length} failed`);
  t.equal(
    failed.length,
    0,
    `no failed request (${failed
      .slice(0, 3)
      .map((f) => f.detail)
      .join(', ')})`,
  );
  t.ok(load.outcomes.length > 1000, 'a real load');
  const greetings = new Set(load.outcomes.map((o) => o.detail));
  t.ok(greetings.size >= 5, `the greeting changed under load (${[...greetings].join(', ')})`);
  t.equal((await run([...productExecutable.cmd, 'stop', '-p', join(dir, 'pid')])).code, 0);
});

t.test('load: SIGTERM fails none of the requests sent before it', async (t) => {
  const dir = tempDir(t);
  const r = await run([...productExecutable.cmd, '--listen', '127.0.0.1:0', '-p', join(dir, 'pid')]);
  t.equal(r.code, 0, r.err);
  const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
  const load = startLoad(portFrom(r.err), 50);
  await new Promise((res) => setTimeout(res, 2000));
  const signalledAt = load.now();
  process.kill(pid, 'SIGTERM');
  await waitFor('the daemon to exit', () => listenerPids(portFrom(r.err)).length === 0 && !alive(pid), 10_000);
  const stoppedAt = load.now();
  await new Promise((res) => setTimeout(res, 200));
  await load.stop();
  const before = load.outcomes.filter((o) => o.start < signalledAt);
  const failedBefore = before.filter((o) => !o.ok);
  const after = load.outcomes.filter((o) => o.start >= signalledAt);
  t.comment(
    `SIGTERM at ${signalledAt} ms, exit ${stoppedAt - signalledAt} ms later: ${before.length} requests sent before, ` +
      `${failedBefore.length} failed; ${after.length} after (${after.filter((o) => o.ok).length} answered, the rest refused)`,
  );
  t.equal(
    failedBefore.length,
    0,
    `none sent before SIGTERM failed (${failedBefore
      .slice(0, 3)
      .map((f) => f.detail)
      .join(', ')})`,
  );
  t.ok(before.length > 1000, 'a real load');
  t.notOk(
    after.some((o) => !o.ok && o.detail === 'ECONNRESET' && o.start < stoppedAt - 1000),
    'no reset long after the stop began',
  );
});
