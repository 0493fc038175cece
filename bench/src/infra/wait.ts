/** What a successful check returned: anything but the values that mean "not yet". */
export type Reached<T> = Exclude<T, undefined | null | false | '' | 0>;

/**
 * Thrown by a check to end the wait at once instead of polling on (the process being waited on
 * has exited, say); every other error a check throws only means "not yet" and is retried.
 */
export class WaitAbandoned extends Error {
  override readonly name = 'WaitAbandoned';
}

/**
 * The one way tests and the bench wait for something to happen elsewhere (a broker delivery, a
 * process to listen, a row to appear): polls `check` every `intervalMs` until it returns a truthy
 * value, and returns that value. After `timeoutMs` it fails naming `what` (a function when the
 * description is only known then: a process's output so far) and the last error the check threw.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string | (() => string),
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<Reached<T>> {
  const deadline = Date.now() + timeoutMs;
  /** What the last failed check threw, as text. */
  let lastError: string | undefined;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as Reached<T>;
    } catch (error) {
      if (error instanceof WaitAbandoned) throw error;
      lastError = String(error);
    }
    if (Date.now() > deadline) {
      const cause = lastError === undefined ? '' : `: ${lastError}`;
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}${cause}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
