// The executable's entry: parse args → daemonize → start the server → ready (ARCHITECTURE.md §1).
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
  singleExecutable,
} from './daemon';
import { identity } from './identity';

async function main(): Promise<void> {
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
      return check(cli.options);
    case 'run':
      return run(cli.options);
  }
}

/** --check-config: what a start or a reload would read, without the daemon (no addon, no fork). */
function check(o: RunOptions): void {
  const { checkConfig } = require('./server/index') as typeof import('./server/index');
  process.stdout.write(
    `${identity.name}: ${checkConfig({ configPath: o.config, configRequired: o.configGiven, listen: o.listen })}\n`,
  );
}

async function run(o: RunOptions): Promise<void> {
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
    const { startServer } = require('./server/index') as typeof import('./server/index');
    return startServer(daemon, { configPath: o.config, configRequired: o.configGiven, listen: o.listen });
  });
}

main().catch((e: unknown) => {
  // Usage errors and failures before the daemon exists (the native addon cannot be loaded).
  const log = new Logger(identity.name);
  if (e instanceof DaemonError) {
    log.error(e.message);
    process.exit(e.exitCode);
  }
  log.error(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(EX.SOFTWARE);
});
