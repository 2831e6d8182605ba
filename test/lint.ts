// The formatter and the linter, as part of the suite: Biome over the TypeScript and JavaScript
// (biome.jsonc), clang-format over native/ (.clang-format). Both only check; `npx biome check
// --write .` and `clang-format -i native/*` fix.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { root, run } from './lib/proc';

t.test('biome ci: formatted, and no lint finding', async (t) => {
  const r = await run(
    [process.execPath, join(root, 'node_modules', '@biomejs', 'biome', 'bin', 'biome'), 'ci', '--colors=off', '.'],
    { cwd: root },
  );
  t.equal(r.code, 0, r.code === 0 ? 'clean' : `${r.stdout.slice(-4000)}${r.err.slice(-4000)}`);
});

t.test('clang-format: native/ as .clang-format has it', async (t) => {
  const files = readdirSync(join(root, 'native'))
    .filter((f) => /\.(c|cc|h)$/.test(f))
    .map((f) => join('native', f));
  t.ok(files.length >= 5, `${files.length} files`);
  const r = await run(['clang-format', '--dry-run', '--Werror', ...files], { cwd: root });
  t.equal(r.code, 0, r.code === 0 ? 'formatted' : r.err.slice(-4000));
});
