import { networkInterfaces } from 'node:os';
import { startApi, type ApiFixture } from '../api/api-fixture.js';

// The database server's URL, read before any startApi points DATABASE_URL at a database of its own.
const SERVER_URL = process.env.DATABASE_URL;

/**
 * startApi for one more api in a test file: startApi leaves DATABASE_URL on its own database, from
 * which the next one would be created (and that one may be dropped by then).
 */
export function startAnotherApi(env: Record<string, string> = {}): Promise<ApiFixture> {
  if (SERVER_URL !== undefined) process.env.DATABASE_URL = SERVER_URL;
  return startApi(env);
}

/**
 * Whether an api with `env` starts: 'started' (after `whenStarted` ran against it, and closed),
 * or the message of the error that stopped it.
 */
export async function startOutcome(
  env: Record<string, string>,
  whenStarted: (api: ApiFixture) => Promise<string> = () => Promise.resolve('started'),
): Promise<string> {
  let api: ApiFixture;
  try {
    api = await startAnotherApi(env);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  try {
    return await whenStarted(api);
  } finally {
    await api.close();
  }
}

/** An IPv4 address of this machine other than loopback (a client from there is not local), if it has one. */
export function externalAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((i) => i !== undefined && !i.internal && i.family === 'IPv4')?.address;
}
