#!/usr/bin/env node
'use strict';
// out/<name>-<version>-linux-<arch>.tar.gz: the same tree as the packages, under one directory, for
// hosts without dpkg or rpm. Usage: package-tarball.js [--version V] [--out DIR] [--arch A]
const { join } = require('node:path');
const { describe, contentsFor } = require('./packaging/describe');
const { inStage, stage, tool, run } = require('./packaging/backend');

function buildTarball({ version, outDir, arch }) {
  const desc = describe({ version, arch });
  const { id } = desc;
  return inStage(outDir, 'tar', (top) => {
    const base = `${id.name}-${id.version}-linux-${id.arch.name}`;
    stage(contentsFor(desc.contents, 'tarball'), join(top, base), id.epoch);
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
