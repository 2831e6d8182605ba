// The container harness itself (test/lib/container.ts): systemd is PID 1, /run and /tmp are
// noexec as on a real boot, nothing the container serves reaches the host, and stopping it
// leaves nothing behind on the host.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Container, processesInCgroup, type Suite, suites, unavailable } from './lib/container';

const why = unavailable();

for (const suite of Object.keys(suites) as Suite[]) {
  t.test(
    `${suite}: systemd ${suites[suite]} as PID 1, /run and /tmp noexec, gone without a trace`,
    { skip: why },
    async (t) => {
      const before = readdirSync(tmpdir()).filter((e) => e.startsWith('forkd-container-'));
      await t.test('booted', async (t) => {
        const c = await Container.boot(t, suite);
        t.equal((await c.run(['cat', '/proc/1/comm'])).stdout, 'systemd\n', 'PID 1 is systemd');
        t.match(
          (await c.run(['systemctl', '--version'])).stdout,
          new RegExp(`^systemd ${suites[suite]} `),
          `systemd ${suites[suite]}`,
        );
        t.match((await c.run(['systemctl', 'is-system-running'])).stdout, /^(running|degraded)/);
        for (const dir of ['/run', '/tmp']) {
          t.match(
            (await c.run(['findmnt', '-no', 'OPTIONS', dir])).stdout,
            /(^|,)noexec(,|$)/,
            `${dir} is mounted noexec`,
          );
          const r = await c.try(`cp /bin/true ${dir}/x && chmod 755 ${dir}/x && ${dir}/x`);
          t.equal(r.code, 126, `a program copied to ${dir} cannot run: ${r.err.trim()}`);
        }
        t.equal((await c.run(['ip', '-o', 'link'])).stdout.trim().split('\n').length, 1, 'its own network: lo only');
        t.ok(processesInCgroup(c.name).length > 0, 'its processes are in its own cgroup on the host');
        await c.stop();
        t.same(processesInCgroup(c.name), [], 'stopped: no process left in its cgroup');
        for (const cg of c.cgroups) t.notOk(existsSync(cg), `no cgroup ${cg}`);
        t.notOk(existsSync(`/run/systemd/nspawn/propagate/${c.name}`), 'no nspawn propagation directory');
        t.notOk(existsSync(`/run/systemd/machines/${c.name}`), 'no machine registration');
        t.notOk(existsSync(c.runDir), 'no run directory');
        t.same(
          readdirSync(tmpdir()).filter((e) => e.startsWith('forkd-container-')),
          before,
          'no new entry in the temporary directory',
        );
      });

      for (const how of ['fail', 'hang'] as const) {
        await t.test(
          how === 'fail'
            ? 'a failing test still tears it down'
            : 'a test process killed with SIGKILL: the next boot reaps what it left',
          async (t) => {
            // A real test file (test/fixtures/container-dies.ts) in its own process, loaded as tap loads this one.
            const child = spawn(
              process.execPath,
              [...process.execArgv, join(__dirname, 'fixtures', 'container-dies.ts'), how, suite],
              {
                stdio: ['ignore', 'pipe', 'pipe'],
                env: { ...process.env, TAP: '0' },
              },
            );
            let out = '';
            const said = new Promise<string[]>((done) =>
              child.stdout.on('data', (b: Buffer) => {
                out += b.toString();
                const m = /^CONTAINER (.*)$/m.exec(out);
                if (m) done(m[1].split(' '));
              }),
            );
            const ended = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
            const [name, runDir, ...cgroups] = await said;
            t.ok(processesInCgroup(name).length > 0, `it booted ${name}`);
            if (how === 'hang') {
              child.kill('SIGKILL');
              await ended;
              t.ok(existsSync(runDir), 'SIGKILL skipped its teardown');
              const next = await Container.boot(t, suite, { noexec: false });
              await next.stop();
            } else {
              t.not(await ended, 0, 'the test process failed');
            }
            t.same(processesInCgroup(name), [], 'no process left in its cgroup');
            for (const cg of cgroups) t.notOk(existsSync(cg), `no cgroup ${cg}`);
            t.notOk(existsSync(runDir), 'no run directory');
          },
        );
      }
    },
  );
}
