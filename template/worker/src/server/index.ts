// The sample worker: no socket; a round of work every `interval` seconds. Replace the work with
// yours; keep the lifecycle hooks.
import { renameSync, writeFileSync } from 'node:fs';
import { type Daemon, DaemonError, EX, reason, type ServerOptions } from '../daemon';
import { loadConfig, type WorkerConfig } from './config';

// The contract (ARCHITECTURE.md §5): startServer, checkConfig and the config file's settings.
export { settings } from './config';

export async function startServer(daemon: Daemon, opts: ServerOptions): Promise<void> {
  // Hook 1: config errors. A DaemonError reaches the starting terminal and sets the exit code.
  let config: WorkerConfig = loadConfig(opts.configPath, opts.configRequired);
  if (!config.fromFile) daemon.log.info(`no config file at ${opts.configPath}; using the defaults`);
  let rounds = 0;
  let running: Promise<void> | undefined;

  /** One round of work: here, a JSON line saying which round it is, written whole or not at all. */
  async function work(): Promise<void> {
    rounds++;
    if (!config.output) return;
    const tmp = `${config.output}.tmp-${process.pid}`;
    writeFileSync(tmp, `${JSON.stringify({ round: rounds, pid: process.pid, at: new Date().toISOString() })}\n`);
    renameSync(tmp, config.output);
  }
  const round = () => {
    if (running) return; // the last round is still at work: skip this one
    running = work()
      .catch((e: unknown) => daemon.log.error(`round ${rounds} failed: ${reason(e)}`))
      .finally(() => (running = undefined));
  };

  // Hook 2: the first round runs before ready, so a worker that cannot work never says it started.
  try {
    await work();
  } catch (e) {
    throw new DaemonError(`cannot write ${config.output}: ${reason(e)}; fix output in the config`, EX.CANTCREAT);
  }
  let timer = setInterval(round, config.interval * 1000);

  // Hook 3: reload (SIGHUP). The next round uses the new config, on the new interval.
  daemon.onReload(() => {
    config = loadConfig(opts.configPath, opts.configRequired);
    clearInterval(timer);
    timer = setInterval(round, config.interval * 1000);
  });

  // Hook 4: graceful stop (SIGTERM). No new round; the one at work finishes.
  daemon.onStop(async () => {
    clearInterval(timer);
    await running;
  });

  // Hook 5: ready.
  daemon.ready(`working every ${config.interval} s`);
}

/**
 * --check-config: reads what a start or a reload would, throws its DaemonError (exit 78) if that
 * fails, else returns a line saying what was checked.
 */
export function checkConfig(opts: ServerOptions): string {
  const config = loadConfig(opts.configPath, opts.configRequired);
  const what = `a round every ${config.interval} s${config.output ? `, into ${config.output}` : ''}`;
  return config.fromFile
    ? `config ${opts.configPath} is valid (${what})`
    : `no config file at ${opts.configPath}; the defaults are valid (${what})`;
}
