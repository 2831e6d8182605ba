// What running as the single executable (out/<name>) changes.

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
