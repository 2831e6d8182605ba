// The bad-input harness (test/bad-input.ts, and the sample's test/server/bad-input.ts): each case
// must give one line naming the problem and the fix, the documented exit code, and leave nothing
// behind (no process, no file).
import { readdirSync } from 'node:fs';
import t from 'tap';
import { name } from './identity';
import type { Launcher } from './launchers';
import { processesMentioning, run, tempDir } from './proc';

export interface Case {
  what: string;
  /** Prepares dir; returns the daemon's arguments (and environment, and a shell prefix for limits). */
  setUp: (
    dir: string,
  ) =>
    | { args: string[]; env?: NodeJS.ProcessEnv; limit?: string }
    | Promise<{ args: string[]; env?: NodeJS.ProcessEnv; limit?: string }>;
  code: number;
  /** The problem and the fix, on the first line. */
  line: RegExp;
  /** Only where the executable extracts its addon (the single executable). */
  seaOnly?: boolean;
}

/** Every path under dir, to see that a failed start added nothing. */
function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

/** Each case against one build: the line, the exit code, no process and no file left. */
export function checkBadInput(launcher: Launcher, cases: Case[]): void {
  t.test(`${launcher.name}: ${cases.length} kinds of bad input`, async (t) => {
    const applicable = cases.filter((c) => !c.seaOnly || launcher.name === 'single executable');
    t.comment(`${applicable.length} cases`);
    for (const c of applicable) {
      t.test(c.what, async (t) => {
        const dir = tempDir(t);
        const { args, env, limit } = await c.setUp(dir);
        const before = listing(dir);
        const argv = launcher.cmd.concat(args);
        const r = limit
          ? await run(['sh', '-c', `${limit} && exec "$@"`, 'sh', ...argv], { env, cwd: dir })
          : await run(argv, { env, cwd: dir });
        const lines = r.err.split('\n').slice(0, -1);
        t.equal(r.code, c.code, `exit ${c.code}`);
        t.match(lines[0] ?? '', c.line, 'the first line names the problem and the fix');
        t.ok(lines[0]?.startsWith(`${name}: `), 'from the daemon, by name');
        // A failure inside the daemon is followed by the parent's own closing line only.
        const rest = lines.slice(1);
        t.ok(
          rest.length === 0 || (rest.length === 1 && rest[0] === `${name}: exited with code ${c.code} during start-up`),
          `one line, and at most the parent's closing line (got ${JSON.stringify(r.err.slice(0, 400))})`,
        );
        t.notOk(r.err.includes('\u001b'), 'no raw terminal escape');
        t.equal(r.stdout, '', 'nothing on stdout');
        t.same(processesMentioning(dir), [], 'no process left');
        t.same(listing(dir), before, 'no file left');
      });
    }
  });
}
