// sysexits.h: the exit codes forkd uses, documented in --help and the README.
export const EX = {
  OK: 0,
  USAGE: 64,
  NOINPUT: 66,
  NOUSER: 67,
  UNAVAILABLE: 69,
  SOFTWARE: 70,
  OSERR: 71,
  CANTCREAT: 73,
  NOPERM: 77,
  CONFIG: 78,
} as const;

/** A failure the user can fix: its message is one line naming the thing and the fix. */
export class DaemonError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'DaemonError';
  }
}

/**
 * A value the user gave, as a message shows it: in quotes, control characters escaped (no raw
 * newline or terminal escape reaches the screen), cut after max characters.
 */
export function quoted(value: string, max = 80): string {
  const cut = value.length > max ? `${value.slice(0, max)}...` : value;
  return JSON.stringify(cut).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Node-style system error thrown by the addon and by node:fs. */
export interface SystemError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
}

export function isSystemError(e: unknown): e is SystemError {
  return e instanceof Error && typeof (e as SystemError).errno === 'number';
}

/** "permission denied" rather than "EACCES: permission denied, open '/x'". */
export function reason(e: unknown): string {
  if (!isSystemError(e)) return e instanceof Error ? e.message : String(e);
  const text: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOENT: 'no such file or directory',
    EROFS: 'read-only file system',
    EISDIR: 'is a directory',
    ENOTDIR: 'a parent is not a directory',
    EADDRINUSE: 'address in use',
    EADDRNOTAVAIL: 'address not available on this host',
    EMFILE: 'too many open files',
    EAGAIN: 'resource temporarily unavailable',
    ENOMEM: 'out of memory',
  };
  return (e.code && text[e.code]) || e.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
}

/** "it is a symbolic link" for a refusal by native/safe_open.c (pid file, log file), else undefined. */
export function refusal(e: unknown): string | undefined {
  if (!isSystemError(e)) return undefined;
  const text: Record<string, string> = {
    ELOOP: 'it is a symbolic link',
    EISDIR: 'it is a directory',
    EINVAL: 'it is not a regular file',
    EMLINK: 'it has other hard links',
  };
  return e.code ? text[e.code] : undefined;
}
