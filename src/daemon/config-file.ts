// Reading a server's TOML config file, with errors a person can act on: one line that names the
// file (and the line and column), what is wrong and the fix, exit 78 (EX_CONFIG). The sample
// servers read theirs through it; so may yours.
import { readFileSync } from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import { DaemonError, EX, reason } from './exit-codes';

/** "config WHERE: MESSAGE", exit 78: WHERE is the path, or path:line:column. */
export function configError(where: string, message: string): DaemonError {
  return new DaemonError(`config ${where}: ${message}`, EX.CONFIG);
}

/**
 * The table the TOML file at path holds; undefined when the file is absent and not required (the
 * default path of a development checkout: the defaults apply). Unreadable, not UTF-8, or not
 * TOML: a configError.
 */
export function readTomlFile(path: string, required: boolean): Record<string, unknown> | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    if (!required && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw configError(path, `cannot read it: ${reason(e)}; fix the path or the permissions`);
  }
  let text: string;
  try {
    // TOML is UTF-8; a lenient decoder would turn other bytes into U+FFFD without a word.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw configError(
      path,
      `not valid UTF-8 (byte ${firstInvalidUtf8(bytes)} of the file); TOML files must be UTF-8: convert it (iconv -t UTF-8)`,
    );
  }
  try {
    return parse(text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) {
      const what = e.message.split('\n')[0].replace(/^Invalid TOML document: /, '');
      throw configError(`${path}:${e.line}:${e.column}`, `${what}; fix the TOML syntax`);
    }
    throw e;
  }
}

/** The 1-based offset of the first byte that is not UTF-8: where a lenient round trip differs. */
function firstInvalidUtf8(bytes: Buffer): number {
  const again = Buffer.from(bytes.toString('utf8'));
  let i = 0;
  while (i < bytes.length && bytes[i] === again[i]) i++;
  return i + 1;
}
