// The worker's configuration: a TOML file, checked setting by setting.
import { configError, readTomlFile } from '../daemon';

export interface WorkerConfig {
  /** Seconds between two rounds of work. */
  interval: number;
  /** Where each round writes its result; empty: nowhere (it only logs). */
  output: string;
  /** False when the default file was absent and the defaults apply. */
  fromFile: boolean;
}

/**
 * The config file's settings, declared once. The defaults below, the packaged config file and the
 * man page's CONFIGURATION section (scripts/packaging/render.js) all come from this list.
 */
export const settings = [
  {
    key: 'interval',
    default: 60,
    help: 'Seconds between two rounds of work (0.1 to 86400). A reload applies it.',
  },
  {
    key: 'output',
    default: '',
    help: 'File each round writes its result to, replaced whole ("" for none). A reload applies it.',
  },
] as const;

const keys: readonly string[] = settings.map((s) => s.key);

/**
 * Reads the configuration. A missing file is an error only when the user named it; the default
 * path may be absent (a development checkout), and then the defaults apply.
 */
export function loadConfig(path: string, required: boolean): WorkerConfig {
  const table = readTomlFile(path, required);
  return table === undefined ? { ...fromTable({}, path), fromFile: false } : fromTable(table, path);
}

function fromTable(table: Record<string, unknown>, path: string): WorkerConfig {
  for (const key of Object.keys(table))
    if (!keys.includes(key)) throw configError(path, `unknown setting "${key}"; the settings are ${keys.join(', ')}`);
  const interval = table.interval ?? settings[0].default;
  if (typeof interval !== 'number' || !(interval >= 0.1 && interval <= 86_400))
    throw configError(path, `interval must be a number of seconds from 0.1 to 86400, not ${JSON.stringify(interval)}`);
  const output = table.output ?? settings[1].default;
  if (typeof output !== 'string') throw configError(path, 'output must be a string; put it in quotes');
  return { interval, output, fromFile: true };
}
