// Why native/safe_open.c refused a path: the pid file and the log file share the rule and its words.
import { isSystemError } from './exit-codes';

/** "it is a symbolic link" for a refusal by safe_open, undefined for any other error. */
export function refusal(e: unknown): string | undefined {
  if (!isSystemError(e)) return undefined;
  switch (e.code) {
    case 'ELOOP':
      return 'it is a symbolic link';
    case 'EISDIR':
      return 'it is a directory';
    case 'EINVAL':
      return 'it is not a regular file';
    case 'EMLINK':
      return 'it has other hard links';
    default:
      return undefined;
  }
}
