// The one loader of the native addon (native/, built by cmake-js).
import { getSystemErrorName } from 'node:util';

export interface ForkParentResult {
  pid: number;
  exitCode: number;
  raiseSignal: number;
}

export interface NativeAddon {
  /** The environment variable that marks the re-executed daemon image. */
  readyMarker: string;
  forkParent(name: string, readyTimeoutMs: number, stopGraceMs: number): ForkParentResult;
  claimReadyChannel(fd: number): void;
  signalReady(fd: number): void;
  pidfileAcquire(path: string, pid: number): number;
  pidfileProbe(path: string): { running: boolean; pid: number };
  pidfileRelease(fd: number, path: string): void;
  dup2(from: number, to: number): void;
}

const builtAt = '../../build/Release/forkd.node';

function load(): NativeAddon {
  try {
    // A literal path, so that bundlers and the single-executable builder can see the addon.
    return require('../../build/Release/forkd.node') as NativeAddon;
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new Error(`cannot load the forkd native addon (tried ${builtAt}): ${why}; run "npm run build"`);
  }
}

/** Gives the addon's errors Node's `code` ("ENOENT"), so callers handle them like fs errors. */
function withCodes(addon: NativeAddon): NativeAddon {
  const wrapped: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(addon)) {
    if (typeof value !== 'function') {
      wrapped[key] = value;
      continue;
    }
    wrapped[key] = (...args: unknown[]) => {
      try {
        return (value as (...a: unknown[]) => unknown)(...args);
      } catch (e) {
        const err = e as Error & { errno?: number; code?: string };
        if (typeof err.errno === 'number') err.code = getSystemErrorName(-err.errno);
        throw err;
      }
    };
  }
  return wrapped as unknown as NativeAddon;
}

export const native: NativeAddon = withCodes(load());
