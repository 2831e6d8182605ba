// Start-up output: what a server writes to stdout or stderr before ready(), or before it exits or
// throws during start-up, reaches the starting terminal byte-exact and in order (issue 11).
// Through a pipe, a file and a real terminal (tmux), 20 runs of each case, 2 at a time, on both
// builds: the fixture daemon under node, and built into a single executable like out/NAME.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { sha256 as sha } from './lib/hash';
import { cleanEnv, killMentioning, processesMentioning, root, run, tempDir, waitFor } from './lib/proc';
import { type Tmux, tmuxServer } from './lib/tmux';

const fixture = join(root, 'test', 'fixtures', 'startup.js');
/** How a build of the fixture is started: its argv before the fixture's own arguments. */
let cmd: string[] = [process.execPath, fixture];
const runs = Number(process.env.FORKD_OUTPUT_RUNS || 20);

type End = 'ready' | 'exit' | 'throw';
interface Case {
  api: string;
  size: 'lines' | 'big';
  end: End;
}

/** The same lines as the fixture's outputLines(). */
function expected(c: Case): Buffer {
  const n = c.size === 'big' ? (10 * 1024 * 1024) / 128 : 2000;
  const tail = 'abcdefghijklmnopqrstuvwxyz'.repeat(5).slice(0, 118);
  const lines = Array.from({ length: n }, (_, i) => `${String(i).padStart(8, '0')} ${tail}`);
  if (c.api === 'logger') return Buffer.from(lines.map((msg) => `${JSON.stringify({ level: 30, msg })}\n`).join(''));
  return Buffer.from(lines.map((l) => `${l}\n`).join(''));
}

const toStdout = (c: Case) => ['console.log', 'process.stdout.write', 'logger'].includes(c.api);
const exitCode: Record<End, number> = { ready: 0, exit: 3, throw: 70 };
const name = (c: Case) =>
  `${c.size === 'big' ? '10 MiB' : '2,000 lines'} by ${c.api}, then ${c.end === 'ready' ? 'ready()' : c.end === 'exit' ? 'process.exit(3)' : 'a throw'}`;

const noSyslogWarning =
  /^fixture: warning: \/dev\/log does not answer [^\n]*: output after ready is discarded[^\n]*\n$/;

/** After the server's bytes, only the runtime's own "fixture: ..." lines may follow on stderr. */
function judge(c: Case, out: Buffer, err: Buffer, code: number | null): string | undefined {
  const want = expected(c);
  if (code !== exitCode[c.end]) return `exit ${code}, not ${exitCode[c.end]}: ${err.subarray(-300).toString()}`;
  const [ours, other] = toStdout(c) ? [out, err] : [err, out];
  const got = ours.subarray(0, want.length);
  if (got.length !== want.length || sha(got) !== sha(want))
    return `${got.length} of ${want.length} bytes, or other bytes`;
  const rest = Buffer.concat([ours.subarray(want.length), other]).toString();
  if (!/^(fixture: [^\n]*\n)*$/.test(rest)) return `unexpected output after the server's: ${rest.slice(0, 300)}`;
  // Where no syslog daemon answers (no /dev/log), the one warning that says so is all it adds.
  if (c.end === 'ready' && rest !== '' && !noSyslogWarning.test(rest))
    return `after ready() the terminal got more: ${rest.slice(0, 300)}`;
  if (c.end !== 'ready' && !rest.endsWith(`fixture: exited with code ${exitCode[c.end]} during start-up\n`))
    return `no closing line: ${rest.slice(-300)}`;
  return undefined;
}

/** Runs n starts, 2 at a time; returns the failures' descriptions. */
async function repeat(n: number, once: (i: number) => Promise<string | undefined>): Promise<string[]> {
  const failures: string[] = [];
  let next = 0;
  await Promise.all(
    [0, 1].map(async () => {
      while (next < n) {
        const i = next++;
        const why = await once(i);
        if (why) failures.push(`run ${i}: ${why}`);
      }
    }),
  );
  return failures;
}

const arg = (c: Case) => `${c.api},${c.size},${c.end}`;

const channels = {
  async pipe(dir: string, c: Case, i: number): Promise<string | undefined> {
    const tag = join(dir, `run${i}`);
    const r = await run([...cmd, 'output', arg(c), tag]);
    killMentioning(tag);
    return judge(c, Buffer.from(r.stdout), r.stderr, r.code); // ASCII: the string is the bytes
  },

  async file(dir: string, c: Case, i: number): Promise<string | undefined> {
    const tag = join(dir, `run${i}`);
    const outPath = `${tag}.out`;
    const errPath = `${tag}.err`;
    const out = openSync(outPath, 'w');
    const err = openSync(errPath, 'w');
    const env = Object.entries(cleanEnv()).map(([k, v]) => `${k}=${v}`);
    const child = spawn('/usr/bin/env', ['-i', ...env, ...cmd, 'output', arg(c), tag], { stdio: ['ignore', out, err] });
    const code = await new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    closeSync(out);
    closeSync(err);
    killMentioning(tag);
    return judge(c, readFileSync(outPath), readFileSync(errPath), code);
  },

  /** A real terminal: tmux records what reaches the pane with pipe-pane (the tty adds \r). */
  async tmux(dir: string, c: Case, i: number, server?: Tmux): Promise<string | undefined> {
    const tag = join(dir, `run${i}`);
    const tmux = server!;
    const go = `${tag}.go`;
    const screen = `${tag}.screen`;
    const script = `${tag}.sh`;
    writeFileSync(
      script,
      `while [ ! -e '${go}' ]; do sleep 0.05; done\n${cmd.map((a) => `'${a}'`).join(' ')} output '${arg(c)}' '${tag}'\necho "EXIT=$?"\nsleep 600\n`,
    );
    const session = `run${i}`;
    tmux('new-session', '-d', '-s', session, '-x', '200', '-y', '50', `env -u NODE_OPTIONS sh '${script}'`);
    tmux('pipe-pane', '-o', '-t', session, `cat > '${screen}'`);
    writeFileSync(go, '');
    const tailOf = () => {
      if (!existsSync(screen)) return '';
      const fd = openSync(screen, 'r');
      try {
        const size = fstatSync(fd).size;
        const buf = Buffer.alloc(Math.min(size, 64));
        readSync(fd, buf, 0, buf.length, size - buf.length);
        return buf.toString();
      } finally {
        closeSync(fd);
      }
    };
    try {
      await waitFor('the exit status on the terminal', () => /EXIT=\d+\r\n$/.test(tailOf()), 60_000);
    } catch (e) {
      return `${(e as Error).message}; the pane ends: ${JSON.stringify(tmux.screen(session).trim().slice(-300))}`;
    }
    tmux('kill-session', '-t', session);
    killMentioning(tag);
    const text = readFileSync(screen).toString('latin1').replace(/\r\n/g, '\n');
    const m = /EXIT=(\d+)\n$/.exec(text)!;
    const seen = Buffer.from(text.slice(0, m.index), 'latin1');
    // One terminal shows both streams; the server's bytes come first either way.
    return judge(c, toStdout(c) ? seen : Buffer.alloc(0), toStdout(c) ? Buffer.alloc(0) : seen, Number(m[1]));
  },
};

const cases: Case[] = [
  { api: 'console.error', size: 'lines', end: 'ready' },
  { api: 'process.stderr.write', size: 'big', end: 'ready' },
  { api: 'process.stdout.write', size: 'big', end: 'ready' },
  { api: 'process.stderr.write', size: 'big', end: 'exit' },
  { api: 'process.stdout.write', size: 'big', end: 'throw' },
];

// Every API, fewer times, through a pipe.
const apis: Case[] = ['console.log', 'console.error', 'process.stdout.write', 'process.stderr.write', 'logger'].flatMap(
  (api) => (['lines', 'big'] as const).map((size) => ({ api, size, end: 'ready' as End })),
);

function throughEachChannel(t: Test, theCases: Case[]): void {
  for (const channel of ['pipe', 'file', 'tmux'] as const) {
    t.test(`through a ${channel}`, async (t) => {
      let server: Tmux | undefined;
      if (channel === 'tmux') {
        server = tmuxServer(t, 'forkd-output');
        // The server keeps the argv it was started with: start it with one that names no run,
        // so that killing a run's leftovers by its tag never kills the server.
        server('new-session', '-d', '-s', 'keep', 'sleep 3600');
      }
      for (const c of theCases) {
        t.test(`${name(c)}: ${runs} of ${runs} byte-exact`, async (t) => {
          const dir = tempDir(t);
          const failures = await repeat(runs, (i) => channels[channel](dir, c, i, server));
          t.same(failures, [], `${runs - failures.length} of ${runs} byte-exact, sha256 compared`);
          // A daemon killed just now may take a moment to die (its threads exit one by one).
          await waitFor('no process left', () => processesMentioning(dir).length === 0, 10_000).catch(() => undefined);
          t.same(processesMentioning(dir), [], 'no process left');
        });
      }
    });
  }
}

t.test('dev build (node)', async (t) => {
  cmd = [process.execPath, fixture];
  throughEachChannel(t, cases);
});

// The same runtime code, bundled and run by the single executable's own Node: the headline cases.
t.test('single executable', async (t) => {
  const exe = join(tempDir(t), 'fixture');
  const built = await run([process.execPath, join(root, 'scripts', 'build-executable.js'), exe, '--entry', fixture], {
    timeoutMs: 300_000,
  });
  t.equal(built.code, 0, `the fixture built as a single executable ${built.err}`);
  cmd = [exe];
  throughEachChannel(
    t,
    cases.filter((c) => c.end !== 'throw'),
  );
});

t.test('every API through a pipe: console.log/error, process.stdout/stderr.write, a stream logger', async (t) => {
  cmd = [process.execPath, fixture];
  for (const c of apis) {
    const dir = tempDir(t);
    const failures = await repeat(4, (i) => channels.pipe(dir, c, i));
    t.same(failures, [], `${name(c)}: 4 of 4 byte-exact`);
  }
});
