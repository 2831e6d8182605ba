// --check-config as a server's tests see it: a good file is valid (and says what it checked), a bad
// one is the server's own error with exit 78, a named but absent one is 78, and nothing starts.
// The runtime's tests (test/cli.ts, the fixture server) and the sample's (test/server/cli.ts) share it.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { name } from './identity';
import { run, tempDir } from './proc';

export async function checkConfigCases(
  t: Test,
  cmd: string[],
  c: { ext: string; badError: string; badWhat: string },
): Promise<void> {
  const daemon = (...args: string[]) => cmd.concat(args);
  const dir = tempDir(t);
  const good = join(dir, `good.${c.ext}`);
  const bad = join(dir, `bad.${c.ext}`);
  writeFileSync(good, 'greeting = "hi"\n');
  writeFileSync(bad, 'greeting = hi\n');
  let r = await run(daemon('--check-config', '-c', good, '--listen', '127.0.0.1:1'));
  t.equal(r.code, 0);
  t.equal(r.stdout, `${name}: config ${good} is valid (listen 127.0.0.1:1)\n`);
  t.equal(r.err, '');
  r = await run(daemon('-t', '-c', bad, '--pidfile', join(dir, 'pid')));
  t.equal(r.code, 78, c.badWhat);
  t.equal(r.err, `${name}: config ${bad}${c.badError}\n`);
  t.equal(r.stdout, '');
  r = await run(daemon('-t', '-c', join(dir, `absent.${c.ext}`)));
  t.equal(r.code, 78, 'a config file named but absent: 78');
  t.notOk(existsSync(join(dir, 'pid')), 'no pid file: nothing was started');
}
