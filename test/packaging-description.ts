// The packaging description (scripts/packaging/describe.js) renders what the server declares
// (whatever server the project has): the shipped config file must pass the server's own
// --check-config, the man page lists its settings, and a daemon that does not listen
// (forkd.listen absent) ships no .socket unit and no --listen anywhere.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import type { Setting } from '../src/daemon';
import { contentsFor, type Described, describe } from './lib/description';
import { productDevBuild } from './lib/launchers';
import { root, run, tempDir } from './lib/proc';

const units = (desc: Described) => desc.contents.filter((f) => f.dst.startsWith('/lib/systemd/system/'));
const { settings } = require(join(root, 'dist', 'server', 'index.js')) as { settings: Setting[] };
const text = (desc: Described, match: (path: string) => boolean) => {
  const f = desc.contents.find((f) => match(f.dst));
  return f?.content && (f.dst.endsWith('.gz') ? gunzipSync(f.content) : f.content).toString();
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
    units(project).some((f) => f.dst.endsWith('.socket')),
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
    units(worker).map((f) => f.dst),
    [`/lib/systemd/system/${worker.id.name}.service`],
    'no .socket unit',
  );
  // The config file and the man page's CONFIGURATION section are the server's settings: this
  // project's server still declares a listen setting, which a worker's would not.
  const configs = worker.contents.filter((f) => f.type.startsWith('config') && f.dst !== worker.id.config);
  for (const f of [...units(worker), ...configs])
    t.notMatch(f.content!.toString(), /\.socket|listen/i, `${f.dst}: no socket, no --listen`);
  const man = text(worker, (p) => p.endsWith('.8.gz'))!.replace(/^\.SH CONFIGURATION\n[\s\S]*?(?=^\.SH )/m, '');
  t.notMatch(man, /\.socket|listen/i, 'the man page: no --listen, no socket');
  for (const [script, body] of [...Object.entries(worker.deb.scripts), ...Object.entries(worker.rpm.scripts)])
    t.notMatch(body, '.socket', `${script}: no .socket unit`);
});

t.test(
  'the description: each format gets every destination once, absolute, of a type its backend renders',
  async (t) => {
    const desc = describe();
    const types = ['', 'config', 'config|noreplace', 'doc', 'license', 'dir', 'symlink'];
    // The debug packages are a .deb and an .rpm; there is no debug tarball.
    const formats = [
      ['deb', '', desc.contents],
      ['deb', 'debug ', desc.debug.contents],
      ['rpm', '', desc.contents],
      ['rpm', 'debug ', desc.debug.contents],
      ['tarball', '', desc.contents],
    ] as const;
    for (const [packager, what, entries] of formats) {
      const got = contentsFor(entries, packager);
      const bad = got.filter((e) => {
        const isFile = e.type !== 'dir' && e.type !== 'symlink';
        return !e.dst.startsWith('/') || !types.includes(e.type) || isFile !== (e.content !== undefined);
      });
      t.same(bad, [], `${packager} ${what}contents: absolute paths, known types, content on files only`);
      t.equal(new Set(got.map((e) => e.dst)).size, got.length, `${packager} ${what}contents: no destination twice`);
      // dpkg-deb --root-owner-group and tar --owner=0 record no other owner (scripts/packaging/backend.js).
      if (packager !== 'rpm')
        t.same(
          got.filter((e) => e.owner !== 'root' || e.group !== 'root').map((e) => e.dst),
          [],
          `${packager} ${what}contents: all root's`,
        );
    }
    const exe = desc.contents.find((e) => e.dst === `/usr/sbin/${desc.id.name}`)!;
    t.throws(
      () => contentsFor([...desc.contents, exe], 'deb'),
      /described twice for deb/,
      'a destination twice is refused',
    );
  },
);
