import { argon2id, hash, verify } from 'argon2';

/**
 * OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): ~30 ms here, slow enough to make guessing
 * costly, fast enough that the login rate limit, not the CPU, is what bounds an attacker.
 */
const OPTIONS = { type: argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Hashes a user password with argon2id; the result embeds salt and parameters. */
export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

/** Checks a password against an argon2 hash; false (never a throw) for a malformed hash. */
export async function verifyPassword(password: string, passwordHash: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

/**
 * Hash of a random password, verified against when the e-mail is unknown, so a login for an
 * unknown user costs as much as one for a known user (no user enumeration by timing).
 */
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(`dummy-${Math.random()}`);
  return dummyHash;
}
