// The sample server's bad input (src/server/: its TOML config and its bind errors), against the
// project's own builds, dist/main.js and out/NAME. A sample test: replace it with your server.
import { mkdirSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { type Case, checkBadInput } from '../lib/bad-input';
import { productLaunchers } from '../lib/launchers';

const start = (dir: string, ...more: string[]) => ['--listen', '127.0.0.1:0', '-p', join(dir, 'pid'), ...more];
const config = (dir: string, text: string | Buffer) => {
  writeFileSync(join(dir, 'c.toml'), text);
  return { args: start(dir, '-c', join(dir, 'c.toml')) };
};

const cases: Case[] = [
  // The config file: exit 78, from the daemon, relayed.
  {
    what: 'config: TOML syntax error',
    setUp: (d) => config(d, 'greeting = "open\n'),
    code: 78,
    line: /config .*c\.toml:1:\d+: .*; fix the TOML syntax$/,
  },
  {
    what: 'config: wrong type',
    setUp: (d) => config(d, 'greeting = 42\n'),
    code: 78,
    line: /greeting must be a string, not a number; put it in quotes$/,
  },
  {
    what: 'config: unknown setting',
    setUp: (d) => config(d, 'greting = "hi"\n'),
    code: 78,
    line: /unknown setting "greting"; the settings are listen, greeting$/,
  },
  {
    what: 'config: not UTF-8',
    setUp: (d) => config(d, Buffer.from([...Buffer.from('greeting = "caf'), 0xe9, ...Buffer.from('"\n')])),
    code: 78,
    line: /c\.toml: not valid UTF-8 \(byte 16 of the file\); TOML files must be UTF-8/,
  },
  {
    what: 'config: listen not HOST:PORT',
    setUp: (d) => config(d, 'listen = "here"\n'),
    code: 78,
    line: /listen "here" is not HOST:PORT/,
  },
  {
    what: 'config: listen empty',
    setUp: (d) => config(d, 'listen = ""\n'),
    code: 78,
    line: /listen "" is not HOST:PORT/,
  },
  {
    what: 'config: listen port above 65535',
    setUp: (d) => config(d, 'listen = "127.0.0.1:70000"\n'),
    code: 78,
    line: /port 70000 is above 65535/,
  },
  {
    what: 'config: a table',
    setUp: (d) => config(d, '[greeting]\nx = 1\n'),
    code: 78,
    line: /greeting must be a string, not a table/,
  },
  {
    what: 'config is a directory',
    setUp: (d) => {
      mkdirSync(join(d, 'conf.d'));
      return { args: start(d, '-c', join(d, 'conf.d')) };
    },
    code: 78,
    line: /conf\.d: cannot read it: is a directory; fix the path/,
  },

  // The address.
  {
    what: 'address in use',
    setUp: async (d) => {
      const blocker = createServer();
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
      const port = (blocker.address() as AddressInfo).port;
      setTimeout(() => blocker.close(), 20_000).unref();
      writeFileSync(join(d, 'c.toml'), ''); // a config file: no "using the defaults" line first
      return { args: ['--listen', `127.0.0.1:${port}`, '-p', join(d, 'pid'), '-c', join(d, 'c.toml')] };
    },
    code: 69,
    line: /cannot bind 127\.0\.0\.1:\d+: address in use; stop the other server or choose another --listen$/,
  },
];

for (const launcher of productLaunchers()) checkBadInput(launcher, cases);
