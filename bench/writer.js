'use strict';
// Writes a file's bytes in 64 KiB pieces: as a forkd daemon's start-up output (through the relay),
// or to stdout (piped through cat, the baseline). Usage: writer.js relay|plain FILE
const fs = require('node:fs');
const [mode, file] = process.argv.slice(2);
const data = fs.readFileSync(file);
function writeAll(fd) {
  for (let off = 0; off < data.length; ) off += fs.writeSync(fd, data, off, Math.min(65536, data.length - off));
}
if (mode === 'plain') {
  writeAll(1);
} else {
  const { daemonize } = require('../dist/daemon');
  // Only the start-up output is measured: after ready, output goes nowhere (no syslog warning).
  const daemon = daemonize({ name: 'bench', logFile: 'none' });
  daemon.run(() => writeAll(2)).then(() => process.exit(0));
}
