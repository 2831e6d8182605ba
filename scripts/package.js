#!/usr/bin/env node
'use strict';
// npm run package: the .deb, the .rpm and the tarball, from one description of the files.
// Usage: package.js [--version V] [--out DIR]   (SOURCE_DATE_EPOCH is honoured)
const { run } = require('./packaging/describe');
const { buildDeb } = require('./package-deb');
const { buildRpm } = require('./package-rpm');
const { buildTarball } = require('./package-tarball');

run((opts) => [buildDeb(opts), buildRpm(opts), buildTarball(opts)].join('\n'));
