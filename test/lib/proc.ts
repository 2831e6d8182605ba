// Test helpers: start real processes, read what /proc says about them, clean up after them.
import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { alive } from '../../src/daemon/alive';

export const root = resolve(__dirname, '..', '..');

export interface Ran {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: Buffer;
  /** stderr as text */
  err: string;
}

export interface RunOptions {
  /** Added to cleanEnv(). */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Extra fds handed to the process from 3 on (to check they do not leak into the daemon). */
  extraFds?: number[];
  cwd?: string;
}

/** The test runner's environment without the test runner's own variables. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(NODE_OPTIONS|NODE_V8_COVERAGE|TAP|_TAP|TS_NODE)/.test(k)) env[k] = v;
  return { ...env, ...extra };
}

/**
 * Spawns argv with cleanEnv(extra). tap's processinfo hooks child_process and puts its --import
 * hooks back into every child's NODE_OPTIONS, which would load tap inside the daemon under
 * test; going through `env -i` hands the program exactly the environment given here.
 */
export function spawnClean(
  argv: string[],
  opts: { env?: NodeJS.ProcessEnv; stdio?: StdioOptions; cwd?: string } = {},
): ChildProcess {
  const env = Object.entries(cleanEnv(opts.env)).map(([k, v]) => `${k}=${v}`);
  return spawn('/usr/bin/env', ['-i', ...env, ...argv], { stdio: opts.stdio, cwd: opts.cwd });
}

/** Runs argv to completion, capturing stdout and stderr; kills it if it outlives timeoutMs. */
export function run(argv: string[], opts: RunOptions = {}): Promise<Ran> {
  return new Promise((done, fail) => {
    const child = spawnClean(argv, {
      env: opts.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe', ...(opts.extraFds ?? [])],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', fail);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err);
      done({ pid: child.pid!, code, signal, stdout: Buffer.concat(out).toString(), stderr, err: stderr.toString() });
    });
  });
}

/** A private temporary directory (mode 0755, so a test's system user can reach it), removed after. */
export function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'forkd-test-'));
  chmodSync(dir, 0o755);
  t.teardown(() => {
    killMentioning(dir);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

export interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  ttyNr: number;
}

export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: f[0], ppid: +f[1], pgrp: +f[2], session: +f[3], ttyNr: +f[4] };
}

export { alive };

/** Live processes whose command line mentions text (a test's unique temporary directory). */
export function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || +name === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(text) && alive(+name)) pids.push(+name);
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

export function killMentioning(text: string): void {
  for (const pid of processesMentioning(text)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

export function fdTargets(pid: number): Map<number, string> {
  const fds = new Map<number, string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      fds.set(+fd, readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // closed meanwhile
    }
  }
  return fds;
}

/** "socket:[inode]" of every listening TCP socket, or of those on port. */
function listeningInodes(port?: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue; // 0A: LISTEN
      if (port === undefined || parseInt(f[1].split(':')[1], 16) === port) inodes.add(`socket:[${f[9]}]`);
    }
  }
  return inodes;
}

/** The fds of pid that are listening TCP sockets. */
export function listeningFds(pid: number): number[] {
  const inodes = listeningInodes();
  return [...fdTargets(pid).entries()].filter(([, l]) => inodes.has(l)).map(([fd]) => fd);
}

/** Pids of the processes holding a listening TCP socket on port (from /proc/net/tcp{,6}). */
export function listenerPids(port: number): number[] {
  const inodes = listeningInodes(port);
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if ([...fdTargets(+name).values()].some((l) => inodes.has(l))) pids.push(+name);
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface Got {
  status: number;
  body: string;
  localPort: number;
}

/** One GET, no retries: a refused connection is an error. */
export function get(port: number, path = '/', agent?: import('node:http').Agent, host = '127.0.0.1'): Promise<Got> {
  return new Promise((done, fail) => {
    const req = request({ host, port, path, agent: agent ?? false }, (res) => {
      // Read now: a kept-alive socket goes back to its agent before 'end'.
      const localPort = res.socket.localPort ?? 0;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), localPort }));
    });
    req.on('error', fail);
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.end();
  });
}

/** The port from the daemon's "listening on http://HOST:PORT" start-up line. */
export function portFrom(stderr: string): number {
  const m = /listening on http:\/\/\S*:(\d+)/.exec(stderr);
  if (!m) throw new Error(`no "listening on" line in: ${stderr}`);
  return Number(m[1]);
}

/** A loopback port free a moment ago, for a tool that cannot bind port 0 (systemd-socket-activate). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
