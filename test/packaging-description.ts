// The packaging description (scripts/packaging/describe.js) renders what the server declares
// (whatever server the project has): the shipped config file must pass the server's own
// --check-config, the man page lists its settings, and a daemon that does not listen
// (forkd.listen absent) ships no .socket unit and no --listen anywhere.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import type { Setting } from '../src/daemon';
import { productDevBuild } from './lib/launchers';
import { root, run, tempDir } from './lib/proc';

interface Described {
  id: { name: string; config: string; listen?: string };
  files: { path: string; content: Buffer; role: string }[];
}
const { describe } = require(join(root, 'scripts', 'packaging', 'describe.js')) as {
  describe: (overrides?: { forkd?: Record<string, unknown> }) => Described;
};
const { settings } = require(join(root, 'dist', 'server', 'index.js')) as { settings: Setting[] };
const text = (desc: Described, match: (path: string) => boolean) => {
  const f = desc.files.find((f) => match(f.path));
  return f && (f.path.endsWith('.gz') ? gunzipSync(f.content) : f.content).toString();
};

t.test("the packaged config file passes the server's own --check-config and explains each setting", async (t) => {
  const desc = describe();
  const content = text(desc, (p) => p === desc.id.config);
  t.ok(content, `${desc.id.config} is packaged`);
  const path = join(tempDir(t), 'config.toml');
  writeFileSync(path, content!);
  const r = await run([...productDevBuild.cmd, '--check-config', '--config', path]);
  t.equal(r.code, 0, `${desc.id.name} --check-config accepts it: ${r.stdout}${r.err}`);
  for (const s of settings)
    t.match(content!, `# ${s.help}\n${s.key} = ${JSON.stringify(s.default)}\n`, `${s.key}: at its default, explained`);
});

t.test("the man page's CONFIGURATION section lists each setting the server declares", async (t) => {
  const man = text(describe(), (p) => p.endsWith('.8.gz'))!;
  const section = /^\.SH CONFIGURATION\n([\s\S]*?)^\.SH /m.exec(man)?.[1] ?? '';
  t.same(
    [...section.matchAll(/^\\fB(\w+)\\fR \(default/gm)].map((m) => m[1]),
    settings.map((s) => s.key),
  );
});

t.test('a daemon that listens ships a .socket unit on its address; one that does not, none', async (t) => {
  const project = describe();
  t.equal(
    project.files.some((f) => f.path.endsWith('.socket')),
    project.id.listen !== undefined,
    `this project ${project.id.listen ? 'listens, and ships' : 'does not listen, and ships no'} .socket unit`,
  );
  const listening = describe({ forkd: { listen: project.id.listen ?? '127.0.0.1:8080' } });
  t.match(
    text(listening, (p) => p.endsWith('.socket')),
    `ListenStream=${listening.id.listen}\n`,
    'the .socket unit listens on forkd.listen',
  );
  t.match(
    text(listening, (p) => p.endsWith('.8.gz')),
    '\\-\\-listen',
  );

  const worker = describe({ forkd: { listen: null } });
  t.same(
    worker.files.filter((f) => f.role === 'unit').map((f) => f.path),
    [`${worker.id.name}.service`],
    'no .socket unit',
  );
  // The config file and the man page's CONFIGURATION section are the server's settings: this
  // project's server still declares a listen setting, which a worker's would not.
  for (const f of worker.files.filter((f) => ['unit', 'config'].includes(f.role) && f.path !== worker.id.config))
    t.notMatch(f.content.toString(), /\.socket|listen/i, `${f.path}: no socket, no --listen`);
  const man = text(worker, (p) => p.endsWith('.8.gz'))!.replace(/^\.SH CONFIGURATION\n[\s\S]*?(?=^\.SH )/m, '');
  t.notMatch(man, /\.socket|listen/i, 'the man page: no --listen, no socket');
  const deb = require(join(root, 'scripts', 'packaging', 'render.js')).debScripts(worker.id) as Record<string, string>;
  for (const [script, body] of Object.entries(deb)) t.notMatch(body, '.socket', `${script}: no .socket unit`);
});
