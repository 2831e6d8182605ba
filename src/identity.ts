// The daemon's identity lives in one place: package.json's "forkd" block (ARCHITECTURE.md §5).
export interface Identity {
  /** Executable, package and service name. */
  name: string;
  description: string;
  version: string;
  /** System user the packaged service runs as. */
  user: string;
  /**
   * Default HOST:PORT to serve on; absent for a server with no socket (a worker). It decides
   * whether there is a --listen option and a .socket unit (ARCHITECTURE.md §5).
   */
  listen?: string;
  /** Default configuration file. */
  config: string;
  /** Default pid file. */
  pidfile: string;
}

interface PackageJson {
  version: string;
  forkd: Omit<Identity, 'version'>;
}

// A literal path so that the single-executable bundler sees and includes it.
const pkg = require('../package.json') as PackageJson;

export const identity: Identity = { ...pkg.forkd, version: pkg.version };
