// The executable's entry: the runtime (src/runtime.ts) with the server in src/server/, which it
// requires only in the daemon, after the fork (ARCHITECTURE.md §1, §5).
import type { ServerModule } from './daemon';
import { identity } from './identity';
import { main } from './runtime';

// `satisfies` checks src/server/ against the contract at build time.
main(identity, () => require('./server/index') as typeof import('./server/index') satisfies ServerModule);
