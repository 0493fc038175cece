import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

/** What {@link FailureCounter.reserve} decided for one key. */
export interface Reservation {
  /** False when the key was already at its limit: the attempt must be refused. */
  readonly allowed: boolean;
  /** True when this attempt, should it fail, is the one that reaches the limit. */
  readonly reachesLimit: boolean;
  /** Until the key's window ends (for Retry-After). */
  readonly msBeforeNext: number;
}

/**
 * Failures per key in a fixed window that starts with the key's first failure
 * (rate-limiter-flexible's memory store: one Map entry and one unref'd timer per key, removed when
 * the window ends). An attempt is reserved as a failure *before* it is checked, so a burst of
 * concurrent attempts cannot all slip under the limit while their checks run; a success gives its
 * point back ({@link refund}) or wipes the key ({@link clear}).
 */
export class FailureCounter {
  private readonly limiter: RateLimiterMemory;

  constructor(
    readonly limit: number,
    windowMs: number,
    keyPrefix: string,
  ) {
    this.limiter = new RateLimiterMemory({
      points: limit,
      duration: Math.max(1, Math.ceil(windowMs / 1000)),
      keyPrefix,
    });
  }

  /** Milliseconds until `key` may try again; 0 when it is under its limit. Counts nothing. */
  async blockedFor(key: string): Promise<number> {
    const res = await this.limiter.get(key);
    return res !== null && res.consumedPoints >= this.limit ? Math.max(1, res.msBeforeNext) : 0;
  }

  /** Counts one attempt as a failure in advance; refused (and not counted) when the key is at its limit. */
  async reserve(key: string): Promise<Reservation> {
    try {
      const res = await this.limiter.consume(key, 1);
      return { allowed: true, reachesLimit: res.consumedPoints === this.limit, msBeforeNext: res.msBeforeNext };
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      await this.refund(key);
      return { allowed: false, reachesLimit: false, msBeforeNext: Math.max(1, error.msBeforeNext) };
    }
  }

  /** Gives back one reserved point (the attempt succeeded, or was not the caller's failure). */
  async refund(key: string): Promise<void> {
    const res = await this.limiter.reward(key, 1);
    // A window that ended between reserve and refund would otherwise start a new one at -1: a free attempt.
    if (res.consumedPoints <= 0) await this.limiter.delete(key);
  }

  /** Forgets every failure of `key` (a successful login clears its account's count). */
  async clear(key: string): Promise<void> {
    await this.limiter.delete(key);
  }
}
