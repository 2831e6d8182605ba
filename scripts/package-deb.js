#!/usr/bin/env node
'use strict';
// out/<name>_<version>_amd64.deb from the one description (packaging/describe.js), built with
// dpkg-deb --root-owner-group. Usage: package-deb.js [--version V] [--out DIR]
const { createHash } = require('node:crypto');
const { chmodSync, mkdirSync, writeFileSync, utimesSync } = require('node:fs');
const { join } = require('node:path');
const { describe, inStage, stageTree, tool, run } = require('./packaging/describe');
const { debScripts } = require('./packaging/render');

function script(body) {
  return `#!/bin/sh\nset -e\n${body}\n\nexit 0\n`;
}

function buildDeb({ version, outDir }) {
  const desc = describe({ version });
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
      'Architecture: amd64',
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
    const debian = join(stage, 'DEBIAN');
    mkdirSync(debian, { mode: 0o755 });
    const meta = {
      control,
      conffiles: files
        .filter((f) => f.conffile)
        .map((f) => `${f.path}\n`)
        .join(''),
      md5sums: files.map((f) => `${createHash('md5').update(f.content).digest('hex')}  ${f.path.slice(1)}\n`).join(''),
      postinst: script(scripts.postinst),
      prerm: script(scripts.prerm),
      postrm: script(scripts.postrm),
    };
    for (const [name, content] of Object.entries(meta)) {
      writeFileSync(join(debian, name), content);
      chmodSync(join(debian, name), /^post|^pre/.test(name) ? 0o755 : 0o644);
      utimesSync(join(debian, name), id.epoch, id.epoch);
    }
    utimesSync(debian, id.epoch, id.epoch);
    chmodSync(stage, 0o755);
    utimesSync(stage, id.epoch, id.epoch);
    const deb = join(dir, `${id.name}_${id.version}_amd64.deb`);
    tool('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, deb], {
      env: { ...process.env, SOURCE_DATE_EPOCH: String(id.epoch) },
      apt: 'dpkg',
    });
    return deb;
  });
}

/** Each override says why: they all come from shipping upstream Node.js as the executable. */
function lintianOverrides(id) {
  const exe = `usr/sbin/${id.name}`;
  return `# The executable is the upstream Node.js binary with the daemon embedded (a single-executable
# application). Stripping would remove the embedded application, so it ships as Node.js builds it.
${id.name}: unstripped-binary-or-object [${exe}]
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

/** Debian's extended description, also used by the rpm %description. */
function longDescription(id) {
  return [
    `${id.name} is a Linux daemon written in TypeScript with forkd and shipped as one`,
    'executable. Started by hand it forks at once, shows its start-up messages and',
    'returns only once it serves; under systemd it runs in the foreground and',
    id.listen
      ? 'notifies readiness (Type=notify), and it supports socket activation.'
      : 'notifies readiness (Type=notify).',
  ];
}

module.exports = { buildDeb, longDescription };
if (require.main === module) run(buildDeb);
