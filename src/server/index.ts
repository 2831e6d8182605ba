// The sample server: an HTTP greeting service. Replace it with yours; keep the lifecycle hooks.
import { closeSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, Server as NetServer, type Socket } from 'node:net';
import {
  type Address,
  type Daemon,
  DaemonError,
  EX,
  formatAddress,
  type ListenFd,
  parseAddress,
  reason,
  type ServerOptions,
  STORED_FD,
} from '../daemon';
import { loadConfig, type ServerConfig } from './config';

// The contract (ARCHITECTURE.md §5): startServer, checkConfig and the config file's settings.
export { settings } from './config';

/** startServer serves on daemon.listenFds when given: restarts keep the listening sockets open. */
export const servesListenFds = true;

/** A connection closes once idle this long while stopping (a busy one closes after its response). */
const idleCloseMs = 250;

export async function startServer(daemon: Daemon, opts: ServerOptions): Promise<void> {
  // Hook 1: config errors. A DaemonError reaches the starting terminal and sets the exit code.
  let config: ServerConfig = loadConfig(opts.configPath, opts.configRequired);
  if (!config.fromFile) daemon.log.info(`no config file at ${opts.configPath}; using the defaults`);
  const started = Date.now();
  let stopping = false;

  // Which connections are between requests, so that a graceful stop never cuts one mid-request.
  const connections = new Map<Socket, { busy: boolean; idleSince: number }>();
  function track(socket: Socket): void {
    connections.set(socket, { busy: false, idleSince: Date.now() });
    socket.on('close', () => connections.delete(socket));
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const conn = connections.get(req.socket);
    if (conn) conn.busy = true;
    res.on('finish', () => {
      if (!conn) return;
      conn.busy = false;
      conn.idleSince = Date.now();
    });
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

  // Hook 2: bind errors, named with the address and the fix. Sockets the service manager passes
  // (socket activation, `restart`) are served as they are: it has bound already. One that
  // systemd kept across a restart in its file-descriptor store is served while it still is the
  // address configured; after a change of listen it is closed (the runtime took it out of the
  // store), and the new address bound.
  const wanted = opts.listen ? parseAddress(opts.listen) : config.listen;
  const passed = daemon.listenFds;
  const kept = passed.filter((p) => p.name === STORED_FD);
  const activated = passed.filter((p) => p.name !== STORED_FD);
  if (activated.length > 0 && opts.listen)
    daemon.log.warn(`--listen ${opts.listen} ignored: serving on the sockets passed by the service manager`);
  const servers: Server[] = [];
  const serve = async (endpoint: Address | ListenFd) => {
    const server = createServer(handle);
    server.on('connection', track);
    const bound = await listen(server, endpoint);
    if ('fd' in endpoint && endpoint.name === STORED_FD && !sameAddress(bound, wanted)) {
      // Closed before the new address is bound, which may overlap it (127.0.0.1 to 0.0.0.0).
      await new Promise((done) => server.close(done));
      daemon.log.info(`kept socket ${formatAddress(bound)} closed: listen is now ${formatAddress(wanted)}`);
      return;
    }
    servers.push(server);
    const via = 'fd' in endpoint ? ` (socket activation: fd ${endpoint.fd}, ${endpoint.name})` : '';
    daemon.log.info(`listening on http://${formatAddress(bound)}${via}`);
  };
  if (activated.length > 0) {
    for (const endpoint of kept) closeSync(endpoint.fd);
    for (const endpoint of activated) await serve(endpoint);
  } else {
    for (const endpoint of kept) await serve(endpoint);
    if (servers.length === 0) await serve(wanted);
  }

  // Hook 3: reload (SIGHUP). Connections stay open; new requests see the new greeting.
  daemon.onReload(() => {
    const next = loadConfig(opts.configPath, opts.configRequired);
    if (!opts.listen && activated.length === 0 && formatAddress(next.listen) !== formatAddress(config.listen))
      daemon.log.warn(`listen changed to ${formatAddress(next.listen)}: that takes a restart`);
    config = next;
  });

  // Hook 4: graceful stop (SIGTERM). Stop accepting; answer what was sent before the stop;
  // close each connection after its response, or once it has been idle a moment.
  daemon.onStop(async () => {
    stopping = true;
    // net.Server's close, not http.Server's: the latter also drops "idle" connections at once,
    // including one whose next request is already on its way.
    const closed = servers.map((s) => new Promise<void>((done) => NetServer.prototype.close.call(s, () => done())));
    const sweep = setInterval(() => {
      const now = Date.now();
      for (const [socket, c] of connections) if (!c.busy && now - c.idleSince >= idleCloseMs) socket.end();
    }, 50);
    await Promise.all(closed);
    clearInterval(sweep);
  });

  // Hook 5: ready. The sockets accept connections, so the starting parent may exit 0.
  daemon.ready(`serving ${servers.length} socket(s)`);
}

/**
 * --check-config (in the spirit of nginx -t): reads what a start or a reload would, throws its
 * DaemonError (exit 78) if that fails, else returns a line saying what was checked.
 */
export function checkConfig(opts: ServerOptions): string {
  const config = loadConfig(opts.configPath, opts.configRequired);
  const listen = opts.listen ?? formatAddress(config.listen);
  return config.fromFile
    ? `config ${opts.configPath} is valid (listen ${listen})`
    : `no config file at ${opts.configPath}; the defaults are valid (listen ${listen})`;
}

/**
 * Whether a bound address is the one wanted: the same port (any, for port 0) and the same IP,
 * however written ([::1] and [0:0::1] are one). A host name never matches: it is bound afresh.
 */
function sameAddress(bound: Address, wanted: Address): boolean {
  const ip = (host: string) => (isIP(host) === 6 ? new URL(`http://[${host}]/`).hostname : host);
  return (
    (wanted.port === 0 || bound.port === wanted.port) && isIP(wanted.host) !== 0 && ip(bound.host) === ip(wanted.host)
  );
}

function listen(server: Server, endpoint: Address | ListenFd): Promise<Address> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => {
      const code = (e as NodeJS.ErrnoException).code;
      const where = 'fd' in endpoint ? `fd ${endpoint.fd}` : formatAddress(endpoint);
      if (code === 'EADDRINUSE')
        reject(
          new DaemonError(
            `cannot bind ${where}: address in use; stop the other server or choose another --listen`,
            EX.UNAVAILABLE,
          ),
        );
      else if (code === 'EACCES')
        reject(
          new DaemonError(
            `cannot bind ${where}: permission denied; ports below 1024 need root or CAP_NET_BIND_SERVICE`,
            EX.NOPERM,
          ),
        );
      else reject(new DaemonError(`cannot bind ${where}: ${reason(e)}; choose another --listen`, EX.UNAVAILABLE));
    };
    server.once('error', onError);
    const options =
      'fd' in endpoint ? { fd: endpoint.fd } : { host: endpoint.host, port: endpoint.port, exclusive: true };
    server.listen(options, () => {
      server.off('error', onError);
      const a = server.address();
      resolve(a && typeof a === 'object' ? { host: a.address, port: a.port } : { host: String(a), port: 0 });
    });
  });
}
