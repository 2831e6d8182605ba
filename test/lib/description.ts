// The packaging description (scripts/packaging/describe.js), typed for the tests that read it.
import { join } from 'node:path';
import { root } from './proc';

/** An entry of the description's contents, as nfpm's (see describe.js). */
export interface Entry {
  dst: string;
  type: string;
  mode: number;
  owner: string;
  group: string;
  content?: Buffer;
  packager?: string;
}

export interface Described {
  id: { name: string; config: string; listen?: string };
  contents: Entry[];
  debug: { contents: Entry[] };
  deb: { scripts: Record<string, string> };
  rpm: { scripts: Record<string, string> };
}

export const { describe, contentsFor } = require(join(root, 'scripts', 'packaging', 'describe.js')) as {
  /** The description, of another forkd block if given (a daemon that does not listen: { listen: null }). */
  describe(overrides?: { forkd?: Record<string, unknown> }): Described;
  /** One format's entries ('deb', 'rpm', 'tarball'), its overrides applied, sorted by destination. */
  contentsFor(entries: Entry[], packager: string): Entry[];
};
