#!/usr/bin/env node
'use strict';
// out/<name>_<version>_<arch>.deb from the one description (packaging/describe.js), built with
// dpkg-deb --root-owner-group, and out/<name>-dbgsym_<version>_<arch>.deb with the executable's
// symbols, as debhelper makes one. Usage: package-deb.js [--version V] [--out DIR] [--arch A]
const { createHash } = require('node:crypto');
const { chmodSync, mkdirSync, writeFileSync, utimesSync } = require('node:fs');
const { join } = require('node:path');
const { describe, inStage, stageTree, tool, run } = require('./packaging/describe');
const { debScripts, longDescription } = require('./packaging/render');

function script(body) {
  return `#!/bin/sh\nset -e\n${body}\n\nexit 0\n`;
}

function buildDeb({ version, outDir, arch }) {
  const desc = describe({ version, arch });
  return [buildMain(desc, outDir), buildDbgsym(desc, outDir)].join('\n');
}

function buildMain(desc, outDir) {
  const { id } = desc;
  const scripts = debScripts(id);
  return inStage(outDir, 'deb', (dir) => {
    const stage = join(dir, 'root');
    const files = stageTree(
      {
        ...desc,
        files: [
          ...desc.files,
          {
            role: 'doc',
            path: `/usr/share/lintian/overrides/${id.name}`,
            mode: 0o644,
            content: Buffer.from(lintianOverrides(id)),
          },
        ],
      },
      stage,
      '/lib/systemd/system',
    );
    const installedKiB = Math.ceil(files.reduce((n, f) => n + f.content.length, 0) / 1024);
    const control = [
      `Package: ${id.name}`,
      `Version: ${id.version}`,
      `Architecture: ${id.arch.deb}`,
      `Maintainer: ${id.maintainer}`,
      `Installed-Size: ${installedKiB}`,
      // What the embedded Node binary links (glibc 2.28, GLIBCXX_3.4.21), and adduser for postinst.
      // invoke-rc.d --skip-systemd-native in the maintainer scripts.
      'Pre-Depends: init-system-helpers (>= 1.54~)',
      'Depends: adduser, libc6 (>= 2.28), libgcc-s1 (>= 3.0), libstdc++6 (>= 5.2)',
      'Section: net',
      'Priority: optional',
      ...(id.homepage ? [`Homepage: ${id.homepage}`] : []),
      `Description: ${id.summary}`,
      ...longDescription(id).map((l) => (l ? ` ${l}` : ' .')),
      '',
    ].join('\n');
    return dpkgDeb(id, dir, stage, `${id.name}_${id.version}_${id.arch.deb}.deb`, files, {
      control,
      conffiles: files
        .filter((f) => f.conffile)
        .map((f) => `${f.path}\n`)
        .join(''),
      postinst: script(scripts.postinst),
      prerm: script(scripts.prerm),
      postrm: script(scripts.postrm),
    });
  });
}

/**
 * NAME-dbgsym: the executable's symbols under /usr/lib/debug/.build-id/, where gdb and elfutils
 * look them up by the executable's build-id. The fields are those dh_strip writes.
 */
function buildDbgsym(desc, outDir) {
  const { id, debug } = desc;
  return inStage(outDir, 'dbgsym', (dir) => {
    const stage = join(dir, 'root');
    const files = stageTree(
      {
        id,
        files: [
          { role: 'debug', path: debug.path, mode: 0o644, content: debug.content },
          // The doc directory is the main package's (lintian: no copyright file of its own needed).
          { role: 'doc', path: `/usr/share/doc/${id.name}-dbgsym`, symlink: id.name },
        ],
      },
      stage,
    );
    const control = [
      `Package: ${id.name}-dbgsym`,
      `Source: ${id.name}`,
      `Version: ${id.version}`,
      'Auto-Built-Package: debug-symbols',
      `Architecture: ${id.arch.deb}`,
      `Maintainer: ${id.maintainer}`,
      `Installed-Size: ${Math.ceil(debug.content.length / 1024)}`,
      `Depends: ${id.name} (= ${id.version})`,
      'Section: debug',
      'Priority: optional',
      `Description: debug symbols for ${id.name}`,
      `Build-Ids: ${debug.buildId}`,
      '',
    ].join('\n');
    return dpkgDeb(id, dir, stage, `${id.name}-dbgsym_${id.version}_${id.arch.deb}.deb`, files, { control });
  });
}

/** Writes DEBIAN/ (md5sums from files, then meta) into stage and builds deb with dpkg-deb. */
function dpkgDeb(id, dir, stage, deb, files, meta) {
  const debian = join(stage, 'DEBIAN');
  mkdirSync(debian, { mode: 0o755 });
  const md5sums = files
    .filter((f) => f.content)
    .map((f) => `${createHash('md5').update(f.content).digest('hex')}  ${f.path.slice(1)}\n`)
    .join('');
  for (const [name, content] of Object.entries({ ...meta, md5sums })) {
    writeFileSync(join(debian, name), content);
    chmodSync(join(debian, name), /^post|^pre/.test(name) ? 0o755 : 0o644);
    utimesSync(join(debian, name), id.epoch, id.epoch);
  }
  utimesSync(debian, id.epoch, id.epoch);
  chmodSync(stage, 0o755);
  utimesSync(stage, id.epoch, id.epoch);
  tool('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, join(dir, deb)], {
    env: { ...process.env, SOURCE_DATE_EPOCH: String(id.epoch) },
    apt: 'dpkg',
  });
  return join(dir, deb);
}

/** Each override says why: they all come from shipping upstream Node.js as the executable. */
function lintianOverrides(id) {
  const exe = `usr/sbin/${id.name}`;
  return `# The executable is the upstream Node.js binary with the daemon embedded (a single-executable
# application), stripped before the daemon went in; its symbols are in ${id.name}-dbgsym.
# Node.js links zlib statically; a single executable cannot use the system's copy.
${id.name}: embedded-library zlib [${exe}]
# Node.js's release build is neither PIE nor FORTIFY_SOURCE; it ships as built upstream.
${id.name}: hardening-no-pie [${exe}]
${id.name}: hardening-no-fortify-functions [${exe}]
# Strings inside the embedded Node.js and its libraries, not this package's text.
${id.name}: spelling-error-in-binary * [${exe}]
# The licences of Node.js and the libraries it bundles, all of which the executable embeds.
${id.name}: extra-license-file [usr/share/doc/${id.name}/LICENSE.node]
`;
}

module.exports = { buildDeb };
if (require.main === module) run(buildDeb);
