#!/usr/bin/env node
'use strict';
// out/<name>-<version>-linux-<arch>.tar.gz: the same tree as the packages, under one directory, for
// hosts without dpkg or rpm. Usage: package-tarball.js [--version V] [--out DIR] [--arch A]
const { writeFileSync, utimesSync } = require('node:fs');
const { join } = require('node:path');
const { describe, inStage, stageTree, tool, run } = require('./packaging/describe');

function buildTarball({ version, outDir, arch }) {
  const desc = describe({ version, arch });
  const { id } = desc;
  return inStage(outDir, 'tar', (top) => {
    const base = `${id.name}-${id.version}-linux-${id.arch.name}`;
    stageTree(desc, join(top, base), '/lib/systemd/system');
    writeFileSync(
      join(top, base, 'INSTALL'),
      `${id.name} ${id.version} for Linux ${id.arch.name}: copy the tree to /, then create the system user:
  sudo cp -r etc lib usr /
  sudo adduser --system --group --home /nonexistent --no-create-home ${id.user}
With systemd: sudo systemctl daemon-reload && sudo systemctl enable --now ${id.name}
Without:      sudo /etc/init.d/${id.name} start
See: man ${id.name}
`,
    );
    utimesSync(join(top, base, 'INSTALL'), id.epoch, id.epoch);
    utimesSync(join(top, base), id.epoch, id.epoch);
    const tarball = join(top, `${base}.tar.gz`);
    const tar = join(top, `${base}.tar`);
    tool('tar', [
      '--sort=name',
      `--mtime=@${id.epoch}`,
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--format=gnu',
      '-C',
      top,
      '-cf',
      tar,
      base,
    ]);
    tool('sh', ['-c', `gzip -9n < "$1" > "$2"`, 'sh', tar, tarball]);
    return tarball;
  });
}

module.exports = { buildTarball };
if (require.main === module) run(buildTarball);
