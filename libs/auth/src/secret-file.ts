import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A secret Lantern generates once and keeps in a file of DATA_DIR (mode 0600), so it survives
 * restarts and every process on the machine agrees: `parse` reads (and checks) the file when it
 * exists; otherwise `generate` makes the content, which is written whole under a temporary name and
 * then linked into place. link() fails if the file exists, so when two processes race on first
 * start the loser reads the winner's complete file — never one created but not yet written.
 */
export function keptSecretFile<T>(path: string, generate: () => string, parse: (text: string) => T): T {
  const existing = readText(path);
  if (existing !== undefined) return parse(existing);
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temporary, generate(), { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
  const written = readText(path);
  if (written === undefined) throw new Error(`${path} disappeared right after it was written`);
  return parse(written);
}

/** The file's text, undefined when there is no file. */
function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
