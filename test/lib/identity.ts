// The daemon's identity as the tests see it: read from package.json, so the same tests pass in
// any generated project (create-forkd-app rewrites only that one place).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './proc';

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  forkd: { name: string };
};

/** The daemon's name: its executable, messages' prefix, package name. */
export const name = pkg.forkd.name;
export const version = pkg.version;
/** What the runtime's test daemon (test/fixtures/daemon/server.js) answers to GET / by default. */
export const greeting = `Hello from ${name}!`;
