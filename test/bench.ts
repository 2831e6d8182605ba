// The benchmarks run and print every figure. Not a timed test: figures are printed, never asserted.
import { join } from 'node:path';
import t from 'tap';
import { fixture, fixtureExecutable } from './lib/launchers';
import { root, run } from './lib/proc';

t.test('npm run bench -- --quick prints every figure', async (t) => {
  // The runtime's test daemon, not the project's: the figures need a daemon that serves HTTP.
  const daemon = ['--daemon', fixtureExecutable(), '--entry', fixture];
  const r = await run([process.execPath, join(root, 'bench', 'run.js'), '--quick', ...daemon], { timeoutMs: 300_000 });
  t.equal(r.code, 0, r.code === 0 ? 'exit 0' : r.err);
  for (const key of [
    'startup',
    'relay',
    'serving',
    'memory-idle',
    'memory-load',
    'restart',
    'size',
    'packages',
    'parent-path',
    'build',
  ])
    t.match(r.stdout, new RegExp(`^${key}: \\S`, 'm'), `${key}`);
  t.match(r.stdout, /^relay: [\d.]+ MB byte-exact/m, 'the relayed bytes were compared');
  // One noisy run is no verdict: the goals and their discussion live in BENCHMARKS.md.
  t.notMatch(r.stdout, /\b(goal|met|MISSED)\b/, 'figures and ratios only, no verdicts');
  t.comment(r.stdout.trim());
});
