// The sample server's configuration: a TOML file, checked setting by setting.
import { readFileSync } from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import { type Address, DaemonError, EX, parseAddress, reason } from '../daemon';
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
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    if (!required && (e as NodeJS.ErrnoException).code === 'ENOENT') return { ...fromTable({}, path), fromFile: false };
    throw configError(path, `cannot read it: ${reason(e)}; fix the path or the permissions`);
  }
  let text: string;
  try {
    // TOML is UTF-8; a lenient decoder would turn other bytes into U+FFFD without a word.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    throw configError(
      path,
      `not valid UTF-8 (byte ${at} of the file); TOML files must be UTF-8: convert it (iconv -t UTF-8)`,
    );
  }
  let table: Record<string, unknown>;
  try {
    table = parse(text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) {
      const what = e.message.split('\n')[0].replace(/^Invalid TOML document: /, '');
      throw configError(`${path}:${e.line}:${e.column}`, `${what}; fix the TOML syntax`);
    }
    throw e;
  }
  return fromTable(table, path);
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

function configError(where: string, message: string): DaemonError {
  return new DaemonError(`config ${where}: ${message}`, EX.CONFIG);
}

/** The 1-based offset of the first byte that is not UTF-8: where a lenient round trip differs. */
function firstInvalidUtf8(bytes: Buffer): number {
  const again = Buffer.from(bytes.toString('utf8'));
  let i = 0;
  while (i < bytes.length && bytes[i] === again[i]) i++;
  return i + 1;
}
