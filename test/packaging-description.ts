// The packaging description (scripts/packaging/describe.js) renders what the server declares: the
// shipped config file must load with the server's own loader and say exactly its defaults.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { root, tempDir } from './lib/proc';

interface Described {
  id: { config: string };
  files: { path: string; content: Buffer }[];
}
const { describe } = require(join(root, 'scripts', 'packaging', 'describe.js')) as { describe: () => Described };
const { defaults, loadConfig, settings } = require(
  join(root, 'dist', 'server', 'config.js'),
) as typeof import('../src/server/config');

t.test('the packaged config file loads with the server loader and holds its defaults', async (t) => {
  const desc = describe();
  const file = desc.files.find((f) => f.path === desc.id.config);
  t.ok(file, `${desc.id.config} is packaged`);
  const path = join(tempDir(t), 'config.toml');
  writeFileSync(path, file!.content);
  const loaded = loadConfig(path, true);
  t.same(
    { ...loaded, listen: `${loaded.listen.host}:${loaded.listen.port}` },
    { ...defaults, fromFile: true },
    'every setting at its default',
  );
  for (const s of settings)
    t.match(file!.content.toString(), `# ${s.help}\n${s.key} = `, `${s.key}: explained in the file`);
});

t.test("the man page's CONFIGURATION section lists each setting the server declares", async (t) => {
  const man = gunzipSync(describe().files.find((f) => f.path.endsWith('.8.gz'))!.content).toString();
  const section = /^\.SH CONFIGURATION\n([\s\S]*?)^\.SH /m.exec(man)?.[1] ?? '';
  t.same(
    [...section.matchAll(/^\\fB(\w+)\\fR \(default/gm)].map((m) => m[1]),
    settings.map((s) => s.key),
  );
});
