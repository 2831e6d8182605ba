// HOST:PORT as written on command lines and in config files: "127.0.0.1:8080", "[::1]:8080".
import { quoted } from './exit-codes';

export interface Address {
  host: string;
  port: number;
}

/** Returns the address, or throws an Error whose message says what is wrong with it. */
export function parseAddress(text: string): Address {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]\s]+):(\d{1,5})$/.exec(text);
  if (!m) throw new Error(`${quoted(text)} is not HOST:PORT (for example 127.0.0.1:8080 or [::1]:8080)`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`${quoted(text)}: port ${port} is above 65535`);
  return { host: m[1], port };
}

export function formatAddress(a: Address): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
