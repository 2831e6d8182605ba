// README's second command on a machine without the system tools: `npm test` stops at once with
// one line naming every missing tool and the apt-get command that installs them.
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { root, run, tempDir } from './lib/proc';

t.test('npm test with a PATH that has only node, npm and sh: one line, exit 69, before anything runs', async (t) => {
  const bin = join(tempDir(t), 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  const npm = (await run(['sh', '-c', 'command -v npm'])).stdout.trim();
  symlinkSync(npm, join(bin, 'npm'));
  symlinkSync('/bin/sh', join(bin, 'sh')); // npm runs scripts with sh
  const r = await run([join(bin, 'npm'), 'test', '--silent'], { cwd: root, env: { PATH: bin } });
  t.equal(r.code, 69, 'exit 69 (EX_UNAVAILABLE)');
  const lines = r.err.trim().split('\n');
  t.equal(lines.length, 1, `one line: ${r.err}`);
  t.match(
    lines[0],
    /^npm test: missing .*\btmux\b.*\blintian\b.*\bsystemd-nspawn\b.*\bmmdebstrap\b.*; install them with: sudo apt-get install .*\bsystemd-container\b/,
  );
  t.notMatch(r.stdout, /TAP|# Subtest/, 'no test ran');
});
