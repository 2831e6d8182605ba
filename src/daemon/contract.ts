// The contract between the runtime and a server (src/server/, or the tests' fixture server):
// what src/runtime.ts calls, and what packaging reads (ARCHITECTURE.md §5).
import type { Daemon } from './daemonize';

/** What the daemon passes the server, from the command line. */
export interface ServerOptions {
  configPath: string;
  /** The user named the config file: it must exist. */
  configRequired: boolean;
  /** --listen, overriding the config's address (only when the daemon listens: `forkd.listen`). */
  listen?: string;
}

/** One setting of the config file: the packaged config file and the man page are rendered from these. */
export interface Setting {
  key: string;
  default: string | number | boolean;
  help: string;
}

/** The contract of src/server/ (ARCHITECTURE.md §5). */
export interface ServerModule {
  /** In the daemon, inside daemon.run(): load the config, bind, register hooks, call daemon.ready(). */
  startServer(daemon: Daemon, opts: ServerOptions): Promise<void> | void;
  /** --check-config: throw the DaemonError a start would, or return one line saying what was checked. */
  checkConfig(opts: ServerOptions): string;
  /** The config file's settings. */
  settings: readonly Setting[];
  /**
   * true: startServer serves on daemon.listenFds when it is not empty, instead of binding. Socket
   * activation, `restart` and the packaged unit's file-descriptor store then keep the listening
   * sockets open across a restart. Absent or false (a server that binds its own address):
   * sockets kept by the store are closed before startServer, and `restart` is refused.
   */
  servesListenFds?: boolean;
}
