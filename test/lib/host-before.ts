// tap's "before" script: the host's state before the run (see host-state.ts).
import { writeFileSync } from 'node:fs';
import { hostState, snapshotFile } from './host-state';

writeFileSync(snapshotFile(), JSON.stringify(hostState()));
