import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** How long a leftover embedded PostgreSQL gets for its fast shutdown. */
const LEFTOVER_STOP_TIMEOUT_MS = 30_000;

/** Another supervisor runs on this DATA_DIR: starting would share (and break) its embedded servers. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `Lantern is already running with DATA_DIR ${dataDir} (pid ${pid}): stop it first, or set DATA_DIR to another folder`,
    );
    this.name = 'DataDirInUseError';
  }
}

/**
 * Claims DATA_DIR for this supervisor (`DATA_DIR/lantern.pid`) and returns how to release it.
 * A supervisor killed with SIGKILL leaves its embedded PostgreSQL running (its roles stop by
 * themselves): when the claim finds the previous holder gone, that PostgreSQL is shut down (fast
 * shutdown, its data kept) so this start can use the cluster and its port again. Throws
 * {@link DataDirInUseError} when the previous holder is still running.
 */
export async function claimDataDir(dataDir: string, say: (line: string) => void): Promise<() => void> {
  mkdirSync(dataDir, { recursive: true });
  const lockFile = join(dataDir, 'lantern.pid');
  const holder = readPid(lockFile);
  if (holder !== undefined && holder !== process.pid && isSupervisor(holder))
    throw new DataDirInUseError(dataDir, holder);
  writeFileSync(lockFile, `${process.pid}\n`);

  const clusterDir = join(dataDir, 'postgres');
  const postmaster = readPid(join(clusterDir, 'postmaster.pid'));
  if (postmaster !== undefined && isAlive(postmaster) && commandLine(postmaster)?.includes(clusterDir) !== false) {
    say(`Stopping the embedded PostgreSQL (pid ${postmaster}) that a previous run left running…`);
    process.kill(postmaster, 'SIGINT');
    const deadline = Date.now() + LEFTOVER_STOP_TIMEOUT_MS;
    while (isAlive(postmaster)) {
      if (Date.now() > deadline)
        throw new Error(`the embedded PostgreSQL a previous run left running (pid ${postmaster}) does not stop`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return () => {
    if (readPid(lockFile) === process.pid) rmSync(lockFile, { force: true });
  };
}

/** The first line of a pid file, when it holds a pid. */
function readPid(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').split('\n')[0].trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Alive, even as another user's process (PostgreSQL runs as `postgres` when Lantern runs as root). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A process's command line (Linux); undefined where /proc is not there to ask. */
function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return undefined;
  }
}

/** A live Lantern supervisor, not a process that got the pid of one that died. */
function isSupervisor(pid: number): boolean {
  if (!isAlive(pid)) return false;
  const command = commandLine(pid);
  return command === undefined || command.includes('lantern');
}
