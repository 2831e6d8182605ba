// tap's "after" script: fails the run if the tests changed the host (see host-state.ts).
import { readFileSync, rmSync } from 'node:fs';
import { changes, type HostState, hostState, snapshotFile } from './host-state';

const file = snapshotFile();
let before: HostState;
try {
  before = JSON.parse(readFileSync(file, 'utf8')) as HostState;
} catch {
  process.stderr.write(`host state: no snapshot from before the run (${file}); nothing to compare\n`);
  process.exit(1);
}
rmSync(file, { force: true });
const changed = changes(before, hostState());
if (changed.length) {
  process.stderr.write(`host state: the tests changed this machine:\n${changed.map((c) => `  ${c}\n`).join('')}`);
  process.exit(1);
}
process.stdout.write(
  `# host state: unchanged (${Object.keys(before).length} checks: user, files, dpkg, port, binfmt)\n`,
);
