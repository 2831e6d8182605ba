// The one logger: lines on fd 2, which is the relay pipe during start-up and the log target after.
import { writeSync } from 'node:fs';

export type Level = 'error' | 'warning' | 'info';

/**
 * plain: "name: message" for a person at a terminal; stamped: time, pid and level for a file;
 * journal: "<3>message" (sd-daemon(3) priority prefixes) when stderr is the journal's stream.
 */
export type LogStyle = 'plain' | 'stamped' | 'journal';

const priority: Record<Level, number> = { error: 3, warning: 4, info: 6 };

export class Logger {
  style: LogStyle = 'plain';

  constructor(readonly name: string) {}

  error(message: string): void {
    this.write('error', message);
  }

  warn(message: string): void {
    this.write('warning', message);
  }

  info(message: string): void {
    this.write('info', message);
  }

  private write(level: Level, message: string): void {
    // One line, whatever a value in the message held: no raw newline or terminal escape.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point
    message = message.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
    let line: string;
    if (this.style === 'journal') line = `<${priority[level]}>${message}\n`;
    else if (this.style === 'stamped')
      line = `${new Date().toISOString()} ${this.name}[${process.pid}] ${level}: ${message}\n`;
    else line = `${this.name}: ${level === 'warning' ? 'warning: ' : ''}${message}\n`;
    writeAll(2, Buffer.from(line));
  }
}

/** Writes every byte, waiting out a non-blocking fd; a closed or broken stderr loses the line. */
export function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) {
    try {
      off += writeSync(fd, data, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}
