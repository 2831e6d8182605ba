// sha256 in hex, for comparing bytes (relayed output, builds, packages).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

export const sha256File = (path: string): string => sha256(readFileSync(path));
