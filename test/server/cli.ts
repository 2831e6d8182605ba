import t from 'tap';
import { checkConfigCases } from '../lib/check-config';
import { productDevBuild } from '../lib/launchers';

const _daemon = (...args: string[]) => productDevBuild.cmd.concat(args);

t.test('--check-config: 0 and what was checked, or 78 and the error; it starts nothing', (t) =>
  checkConfigCases(t, productDevBuild.cmd, {
    ext: 'toml',
    badError: ':1:12: invalid value; fix the TOML syntax',
    badWhat: 'a TOML error: 78',
  }),
);
