// npm run package (scripts/package.js) on a copy of the tree: it refuses an executable older
// than its sources, and it says which format failed. The packages themselves: test/packaging.ts.
import { cpSync, mkdirSync, symlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { executablePath, foreignExecutables } from './lib/launchers';
import { root, run, tempDir } from './lib/proc';

/**
 * The tree package.js reads, with out/NAME (and its .debug, and out/ARCH/ of the other
 * architectures) linked to the built ones (no 100 MB copies), and build/ to the built addons.
 */
function copyTree(dir: string): string {
  const copy = join(dir, 'tree');
  for (const p of [
    'src',
    'native',
    'scripts',
    'dist',
    'CMakeLists.txt',
    'tsconfig.json',
    'package.json',
    'package-lock.json',
  ])
    cpSync(join(root, p), join(copy, p), { recursive: true, preserveTimestamps: true });
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
  symlinkSync(join(root, 'build'), join(copy, 'build')); // the addon, which the packages may carry too
  mkdirSync(join(copy, 'out'));
  symlinkSync(executablePath, join(copy, 'out', executablePath.split('/').pop()!));
  symlinkSync(`${executablePath}.debug`, join(copy, 'out', `${executablePath.split('/').pop()!}.debug`));
  for (const exe of foreignExecutables()) symlinkSync(join(exe.path, '..'), join(copy, 'out', exe.arch));
  return copy;
}

t.test('a source newer than out/NAME: refused before any backend runs, with the fix', async (t) => {
  const copy = copyTree(tempDir(t));
  const later = Date.now() / 1000 + 60;
  utimesSync(join(copy, 'src', 'main.ts'), later, later);
  const r = await run([process.execPath, join(copy, 'scripts', 'package.js'), '--out', join(copy, 'pk')]);
  t.equal(r.code, 1, 'exit 1');
  t.match(r.err, /is older than src\/main\.ts; run "npm run build" first\n$/, 'names the newer source and the fix');
  t.notMatch(r.err, /^package: /m, 'no format was started');
  t.equal(r.stdout, '', 'nothing listed as built');
});

t.test('a failing format is named with what its tool said; exit 1, nothing listed', async (t) => {
  const copy = copyTree(tempDir(t));
  // No dpkg-deb, rpmbuild or gzip on this PATH: every backend fails at its tool.
  const r = await run([process.execPath, join(copy, 'scripts', 'package.js'), '--out', join(copy, 'pk')], {
    env: { PATH: '/nonexistent' },
  });
  t.equal(r.code, 1, 'exit 1');
  for (const format of ['deb', 'rpm', 'tarball'])
    for (const arch of ['x64', ...foreignExecutables().map((e) => e.arch)]) {
      t.match(
        r.err,
        new RegExp(`^package: ${format} ${arch} \\.\\.\\.$`, 'm'),
        `${format} ${arch}: a line as it starts`,
      );
      t.match(
        r.err,
        new RegExp(
          `^package: ${format} ${arch} FAILED after [\\d.]+ s:\\n.* is not installed \\(apt-get install `,
          'm',
        ),
        `${format} ${arch}: a line as it ends, with the reason`,
      );
    }
  t.equal(r.stdout, '', 'nothing listed as built');
});
