// The sample server: an HTTP greeting service. Replace it with yours; keep the lifecycle hooks.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { DaemonError, EX, formatAddress, parseAddress, reason, type Address, type Daemon } from '../daemon';
import { loadConfig, type ServerConfig } from './config';

export interface ServerOptions {
  configPath: string;
  /** The user named the config file: it must exist. */
  configRequired: boolean;
  /** --listen, overriding the config's listen. */
  listen?: string;
}

export async function startServer(daemon: Daemon, opts: ServerOptions): Promise<void> {
  // Hook 1: config errors. A DaemonError reaches the starting terminal and sets the exit code.
  let config: ServerConfig = loadConfig(opts.configPath, opts.configRequired);
  if (!config.fromFile) daemon.log.info(`no config file at ${opts.configPath}; using the defaults`);
  const address = opts.listen ? parseAddress(opts.listen) : config.listen;
  const started = Date.now();
  let stopping = false;

  const server = createServer((req, res) => handle(req, res));
  function handle(req: IncomingMessage, res: ServerResponse): void {
    if (stopping) res.setHeader('Connection', 'close');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${config.greeting}\n`);
    } else if (path === '/healthz') {
      const body = { status: stopping ? 'stopping' : 'ok', pid: process.pid, uptime_s: (Date.now() - started) / 1000 };
      res.writeHead(stopping ? 503 : 200, { 'Content-Type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    }
  }

  // Hook 2: bind errors, named with the address and the fix.
  const bound = await listen(server, address);
  daemon.log.info(`listening on http://${formatAddress(bound)}`);

  // Hook 3: reload (SIGHUP). Connections stay open; new requests see the new greeting.
  daemon.onReload(() => {
    const next = loadConfig(opts.configPath, opts.configRequired);
    if (!opts.listen && formatAddress(next.listen) !== formatAddress(config.listen))
      daemon.log.warn(`listen changed to ${formatAddress(next.listen)}: that takes a restart`);
    config = next;
  });

  // Hook 4: graceful stop (SIGTERM). Accept no more; let requests in flight finish.
  daemon.onStop(
    () =>
      new Promise<void>((done) => {
        stopping = true;
        server.close(() => done());
        server.closeIdleConnections();
      }),
  );

  // Hook 5: ready. The port accepts connections, so the starting parent may exit 0.
  daemon.ready();
}

function listen(server: Server, address: Address): Promise<Address> {
  return new Promise((resolve, reject) => {
    server.once('error', (e) => {
      const code = (e as NodeJS.ErrnoException).code;
      const where = formatAddress(address);
      if (code === 'EADDRINUSE')
        reject(new DaemonError(`cannot bind ${where}: address in use; stop the other server or choose another --listen`, EX.UNAVAILABLE));
      else if (code === 'EACCES')
        reject(new DaemonError(`cannot bind ${where}: permission denied; ports below 1024 need root or CAP_NET_BIND_SERVICE`, EX.NOPERM));
      else reject(new DaemonError(`cannot bind ${where}: ${reason(e)}; choose another --listen`, EX.UNAVAILABLE));
    });
    server.listen({ host: address.host, port: address.port, exclusive: true }, () => {
      const a = server.address();
      resolve(a && typeof a === 'object' ? { host: a.address, port: a.port } : address);
    });
  });
}
