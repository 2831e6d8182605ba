// The sample server's --check-config (src/server/config.ts: TOML), through the project's
// dist/main.js. A sample test: replace it with your server's.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { name } from '../lib/identity';
import { productDevBuild } from '../lib/launchers';
import { run, tempDir } from '../lib/proc';

const daemon = (...args: string[]) => productDevBuild.cmd.concat(args);

t.test('--check-config: 0 and what was checked, or 78 and the error; it starts nothing', async (t) => {
  const dir = tempDir(t);
  const good = join(dir, 'good.toml');
  const bad = join(dir, 'bad.toml');
  writeFileSync(good, 'greeting = "hi"\n');
  writeFileSync(bad, 'greeting = hi\n');
  let r = await run(daemon('--check-config', '-c', good, '--listen', '127.0.0.1:1'));
  t.equal(r.code, 0);
  t.equal(r.stdout, `${name}: config ${good} is valid (listen 127.0.0.1:1)\n`);
  t.equal(r.err, '');
  r = await run(daemon('-t', '-c', bad, '--pidfile', join(dir, 'pid')));
  t.equal(r.code, 78, 'a TOML error: 78');
  t.equal(r.err, `${name}: config ${bad}:1:12: invalid value; fix the TOML syntax\n`);
  t.equal(r.stdout, '');
  r = await run(daemon('-t', '-c', join(dir, 'absent.toml')));
  t.equal(r.code, 78, 'a config file named but absent: 78');
  t.notOk(existsSync(join(dir, 'pid')), 'no pid file: nothing was started');
});
