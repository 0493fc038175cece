import { describe, expect, it } from '@jest/globals';
import { WaitAbandoned, waitFor } from './wait.js';

describe('waitFor', () => {
  it('polls until the check returns something truthy, and returns it', async () => {
    const answers = [undefined, false, 0, '', null, { id: 'row' }];
    let calls = 0;
    await expect(waitFor(() => answers[calls++], 'the row', 1000, 1)).resolves.toEqual({ id: 'row' });
    expect(calls).toBe(answers.length);
  });

  it('takes a thrown error for "not yet", and names it with `what` when the time is up', async () => {
    let calls = 0;
    const check = (): boolean => {
      calls++;
      throw new Error(`refused ${calls}`);
    };
    const failure: unknown = await waitFor(check, 'the server', 50, 5).catch((error: unknown) => error);
    expect(calls).toBeGreaterThan(1);
    expect(failure).toEqual(new Error(`Timed out after 50 ms waiting for the server: Error: refused ${calls}`));
  });

  it('describes what it waited for only when it fails, from a function if given one', async () => {
    let output = 'starting';
    const waited = waitFor(
      () => {
        output += '.';
        return false;
      },
      () => `the banner; output so far: ${output}`,
      30,
      5,
    );
    await expect(waited).rejects.toThrow(/^Timed out after 30 ms waiting for the banner; output so far: starting\.+$/);
  });

  it('stops at once when the check throws WaitAbandoned, with that error', async () => {
    let calls = 0;
    const abandoned = new WaitAbandoned('the ingest exited (1)');
    const check = (): boolean => {
      calls++;
      throw abandoned;
    };
    await expect(waitFor(check, 'the ingest', 10_000, 1)).rejects.toBe(abandoned);
    expect(calls).toBe(1);
  });
});
