// The sample server's configuration: a TOML file, checked setting by setting.
import { type Address, configError, parseAddress, readTomlFile } from '../daemon';
import { identity } from '../identity';

export interface ServerConfig {
  listen: Address;
  greeting: string;
  /** False when the default file was absent and the defaults apply. */
  fromFile: boolean;
}

/**
 * The config file's settings, declared once. The defaults below, the packaged config file and the
 * man page's CONFIGURATION section (scripts/packaging/render.js) all come from this list.
 */
export const settings = [
  {
    key: 'listen',
    // forkd.listen in package.json: the generator's --port sets it.
    default: identity.listen ?? '127.0.0.1:8080',
    help: 'HOST:PORT to serve on ([::1]:8080 for IPv6). A change takes a restart.',
  },
  {
    key: 'greeting',
    default: `Hello from ${identity.name}!`,
    help: 'What GET / answers. A reload applies it without dropping connections.',
  },
] as const;

type Key = (typeof settings)[number]['key'];
export const defaults = Object.fromEntries(settings.map((s) => [s.key, s.default])) as Record<Key, string>;
const keys: readonly string[] = settings.map((s) => s.key);

/**
 * Reads the configuration. A missing file is an error only when the user named it; the default
 * path may be absent (a development checkout), and then the defaults apply.
 */
export function loadConfig(path: string, required: boolean): ServerConfig {
  const table = readTomlFile(path, required);
  return table === undefined ? { ...fromTable({}, path), fromFile: false } : fromTable(table, path);
}

function fromTable(table: Record<string, unknown>, path: string): ServerConfig {
  for (const key of Object.keys(table)) {
    if (!keys.includes(key)) throw configError(path, `unknown setting "${key}"; the settings are ${keys.join(', ')}`);
  }
  const listenText = stringSetting(table, 'listen', path) ?? defaults.listen;
  let listen: Address;
  try {
    listen = parseAddress(listenText);
  } catch (e) {
    throw configError(path, `listen ${(e as Error).message}`);
  }
  return { listen, greeting: stringSetting(table, 'greeting', path) ?? defaults.greeting, fromFile: true };
}

function stringSetting(table: Record<string, unknown>, key: string, path: string): string | undefined {
  const value = table[key];
  if (value === undefined || typeof value === 'string') return value;
  const type = Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'a table' : `a ${typeof value}`;
  throw configError(path, `${key} must be a string, not ${type}; put it in quotes`);
}
