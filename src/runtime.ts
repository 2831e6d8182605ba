// The daemon's entry, whatever the server: parse args → daemonize → start the server → ready
// (ARCHITECTURE.md §1, §5). src/main.ts runs it with src/server/; the runtime's tests run it with
// a fixture server of their own (test/fixtures/daemon/), so they pass whatever src/server/ holds.
// Only the argument parser and the runtime load before the fork; the server loads in the daemon.
import { join } from 'node:path';
import { helpText, parseCommandLine, type RunOptions } from './cli';
import {
  control,
  DaemonError,
  daemonize,
  dropInheritedNodeVariables,
  EX,
  Logger,
  otherNode,
  READY_TIMEOUT_MS,
  restart,
  type ServerModule,
  type ServerOptions,
  singleExecutable,
} from './daemon';
import type { Identity } from './identity';

/** Runs the command line; `loadServer` is called only in the daemon (and for --check-config). */
export function main(identity: Identity, loadServer: () => ServerModule): void {
  start(identity, loadServer).catch((e: unknown) => {
    // Usage errors and failures before the daemon exists (the native addon cannot be loaded).
    const log = new Logger(identity.name);
    if (e instanceof DaemonError) {
      log.error(e.message);
      process.exit(e.exitCode);
    }
    log.error(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(EX.SOFTWARE);
  });
}

async function start(identity: Identity, loadServer: () => ServerModule): Promise<void> {
  if (singleExecutable()) dropInheritedNodeVariables();
  else {
    const refusal = otherNode(join(__dirname, '..'));
    if (refusal) throw new DaemonError(refusal, EX.USAGE);
  }
  const cli = parseCommandLine(process.argv.slice(2), identity);
  switch (cli.kind) {
    case 'help':
      process.stdout.write(helpText(identity));
      return;
    case 'version':
      process.stdout.write(`${identity.name} ${identity.version}\n`);
      return;
    case 'control':
      process.exitCode = await control(cli.command, cli.pidFile, identity.name);
      return;
    case 'restart':
      return restart({
        name: identity.name,
        pidFile: cli.options.pidFile ?? identity.pidfile,
        readyTimeoutMs: cli.options.readyTimeoutMs ?? READY_TIMEOUT_MS,
        argFromEnd: cli.argFromEnd,
      });
    case 'check':
      // --check-config: what a start or a reload would read, without the daemon (no addon, no fork).
      process.stdout.write(`${identity.name}: ${loadServer().checkConfig(serverOptions(cli.options))}\n`);
      return;
    case 'run':
      return run(identity, cli.options, loadServer);
  }
}

const serverOptions = (o: RunOptions): ServerOptions => ({
  configPath: o.config,
  configRequired: o.configGiven,
  ...(o.listen !== undefined ? { listen: o.listen } : {}),
});

async function run(identity: Identity, o: RunOptions, loadServer: () => ServerModule): Promise<void> {
  const daemon = daemonize({
    name: identity.name,
    foreground: o.foreground,
    readyTimeoutMs: o.readyTimeoutMs,
    pidFile: o.pidFile,
    chdir: o.chdir,
    logFile: o.logFile,
    user: o.user,
    group: o.group,
  });
  await daemon.run(() => {
    const server = loadServer();
    daemon.servesListenFds(server.servesListenFds === true);
    return server.startServer(daemon, serverOptions(o));
  });
}
