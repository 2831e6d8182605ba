// The executable's entry: parse args → daemonize → start the server → ready (DESIGN.md §1).
// Only the argument parser and the runtime load before the fork; the server loads in the daemon.
import { helpText, parseCommandLine, type CommandLine } from './cli';
import { control, daemonize, DaemonError, Logger } from './daemon';
import { identity } from './identity';

async function main(): Promise<void> {
  let cli: CommandLine;
  try {
    cli = parseCommandLine(process.argv.slice(2), identity);
  } catch (e) {
    if (!(e instanceof DaemonError)) throw e;
    new Logger(identity.name).error(e.message);
    process.exit(e.exitCode);
  }
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
    case 'run':
      break;
  }
  const o = cli.options;
  const daemon = daemonize({
    name: identity.name,
    foreground: o.foreground,
    readyTimeoutMs: o.readyTimeoutMs,
    pidFile: o.pidFile,
    chdir: o.chdir,
    logFile: o.logFile,
  });
  await daemon.run(() => {
    const { startServer } = require('./server/index') as typeof import('./server/index');
    return startServer(daemon, { configPath: o.config, configRequired: o.configGiven, listen: o.listen });
  });
}

void main();
