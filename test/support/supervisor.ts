import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from './wait.js';

/** The built supervisor of `npm start` (npm test builds first). */
export const SUPERVISOR = new URL('../../dist/apps/lantern/apps/lantern/src/main.js', import.meta.url).pathname;

/** A supervisor process and everything it printed so far. */
export interface SupervisorRun {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exit: Promise<number | null>;
}

/** Starts the supervisor with this process's environment plus `env` (an undefined value unsets). */
export function startSupervisor(env: Record<string, string | undefined>): SupervisorRun {
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete fullEnv[key];
  const child = spawn(process.execPath, [SUPERVISOR], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const run: SupervisorRun = {
    child,
    stdout: '',
    stderr: '',
    exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  child.stdout.on('data', (chunk: Buffer) => (run.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
  return run;
}

/** Waits for the start banner; fails with the whole output when the supervisor exits first. */
export async function waitForBanner(run: SupervisorRun, timeoutMs = 45_000): Promise<void> {
  await waitFor(
    () => run.stdout.includes('Press Ctrl-C to stop.') || run.child.exitCode !== null,
    () => `the start banner; output so far:\n${run.stdout}\n${run.stderr}`,
    timeoutMs,
    50,
  );
  if (run.child.exitCode !== null)
    throw new Error(`the supervisor exited (${run.child.exitCode}) before it was up:\n${run.stderr}\n${run.stdout}`);
}
