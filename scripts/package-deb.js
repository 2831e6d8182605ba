#!/usr/bin/env node
'use strict';
// out/<name>_<version>_<arch>.deb from the one description (packaging/describe.js), built with
// dpkg-deb --root-owner-group, and out/<name>-dbgsym_<version>_<arch>.deb with the executable's
// symbols, as debhelper makes one. Usage: package-deb.js [--version V] [--out DIR] [--arch A]
const { createHash } = require('node:crypto');
const { chmodSync, mkdirSync, writeFileSync, utimesSync } = require('node:fs');
const { join } = require('node:path');
const { describe, contentsFor } = require('./packaging/describe');
const { inStage, stage, tool, run } = require('./packaging/backend');

function script(body) {
  return `#!/bin/sh\nset -e\n${body}\n\nexit 0\n`;
}

function buildDeb({ version, outDir, arch }) {
  const desc = describe({ version, arch });
  return [buildMain(desc, outDir), buildDbgsym(desc, outDir)].join('\n');
}

function buildMain(desc, outDir) {
  const { id, deb } = desc;
  const files = contentsFor(desc.contents, 'deb');
  const control = [
    `Package: ${id.name}`,
    `Version: ${id.version}`,
    `Architecture: ${id.arch.deb}`,
    `Maintainer: ${id.maintainer}`,
    `Installed-Size: ${installedSize(files)}`,
    `Pre-Depends: ${deb.preDepends.join(', ')}`,
    `Depends: ${deb.depends.join(', ')}`,
    `Section: ${deb.section}`,
    `Priority: ${deb.priority}`,
    ...(id.homepage ? [`Homepage: ${id.homepage}`] : []),
    `Description: ${id.summary}`,
    ...desc.description.map((l) => (l ? ` ${l}` : ' .')),
    '',
  ].join('\n');
  return inStage(outDir, 'deb', (dir) =>
    dpkgDeb(id, dir, `${id.name}_${id.version}_${id.arch.deb}.deb`, files, {
      control,
      conffiles: files
        .filter((f) => f.type === 'config' || f.type === 'config|noreplace')
        .map((f) => `${f.dst}\n`)
        .join(''),
      postinst: script(deb.scripts.postinst),
      prerm: script(deb.scripts.prerm),
      postrm: script(deb.scripts.postrm),
    }),
  );
}

/**
 * NAME-dbgsym: the executable's symbols under /usr/lib/debug/.build-id/, where gdb and elfutils
 * look them up by the executable's build-id. The fields are those dh_strip writes.
 */
function buildDbgsym(desc, outDir) {
  const { id, debug } = desc;
  const files = contentsFor(debug.contents, 'deb');
  const control = [
    `Package: ${id.name}-dbgsym`,
    `Source: ${id.name}`,
    `Version: ${id.version}`,
    'Auto-Built-Package: debug-symbols',
    `Architecture: ${id.arch.deb}`,
    `Maintainer: ${id.maintainer}`,
    `Installed-Size: ${installedSize(files)}`,
    `Depends: ${id.name} (= ${id.version})`,
    'Section: debug',
    'Priority: optional',
    `Description: debug symbols for ${id.name}`,
    `Build-Ids: ${debug.buildId}`,
    '',
  ].join('\n');
  return inStage(outDir, 'dbgsym', (dir) =>
    dpkgDeb(id, dir, `${id.name}-dbgsym_${id.version}_${id.arch.deb}.deb`, files, { control }),
  );
}

/** Installed-Size: the files' bytes, in KiB rounded up. */
function installedSize(files) {
  return Math.ceil(files.reduce((n, f) => n + (f.content ? f.content.length : 0), 0) / 1024);
}

/** Stages files and DEBIAN/ (md5sums from files, then meta) under dir/root, and builds deb there. */
function dpkgDeb(id, dir, deb, files, meta) {
  const root = join(dir, 'root');
  stage(files, root, id.epoch);
  const debian = join(root, 'DEBIAN');
  mkdirSync(debian, { mode: 0o755 });
  const md5sums = files
    .filter((f) => f.content)
    .map((f) => `${createHash('md5').update(f.content).digest('hex')}  ${f.dst.slice(1)}\n`)
    .join('');
  for (const [name, content] of Object.entries({ ...meta, md5sums })) {
    writeFileSync(join(debian, name), content);
    chmodSync(join(debian, name), /^post|^pre/.test(name) ? 0o755 : 0o644);
    utimesSync(join(debian, name), id.epoch, id.epoch);
  }
  utimesSync(debian, id.epoch, id.epoch);
  chmodSync(root, 0o755);
  utimesSync(root, id.epoch, id.epoch);
  tool('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', root, join(dir, deb)], {
    env: { ...process.env, SOURCE_DATE_EPOCH: String(id.epoch) },
    apt: 'dpkg',
  });
  return join(dir, deb);
}

module.exports = { buildDeb };
if (require.main === module) run(buildDeb);
