// The host-state check that tap runs around the whole suite (test/lib/host-before.ts and
// host-after.ts): it sees a package file appear and a port start listening.
import { mkdirSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { changes, hostState } from './lib/host-state';
import { name } from './lib/identity';
import { tempDir } from './lib/proc';

t.test('host state: a new file or listener is a change, nothing else is', async (t) => {
  const prefix = tempDir(t);
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  const before = hostState({ prefix, port });
  t.same(changes(before, hostState({ prefix, port })), [], 'unchanged: no changes');
  mkdirSync(join(prefix, 'etc', name), { recursive: true });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  t.teardown(() => server.close());
  t.same(changes(before, hostState({ prefix, port })), [
    `listening on port ${port}: no → yes`,
    `/etc/${name}: absent → present`,
  ]);
});
