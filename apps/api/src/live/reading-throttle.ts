import type { LiveReadingEvent } from '@lantern/domain';

interface KeyState {
  /** Wall-clock time of the last emit. */
  lastEmitAt: number;
  /** Event time (epoch ms) of the last emitted reading: older readings never replace a newer one on screen. */
  lastEmittedTs: number;
  pending?: LiveReadingEvent;
  pendingTs?: number;
  timer?: NodeJS.Timeout;
}

/**
 * Live readings per (patient, metric): at most one emit per interval. The first reading after a quiet
 * interval goes out at once; readings arriving within the interval are held and only the latest (by
 * event time) is emitted when the interval ends, so a screen always ends on the newest value.
 */
export class ReadingThrottle {
  private readonly keys = new Map<string, KeyState>();

  constructor(
    private readonly intervalMs: number,
    private readonly emit: (event: LiveReadingEvent) => void,
    private readonly now: () => number = Date.now,
  ) {}

  offer(event: LiveReadingEvent): void {
    const key = `${event.patientId}\u0000${event.metric}`;
    const ts = Date.parse(event.ts);
    const state = this.keys.get(key);
    const now = this.now();
    if (!state) {
      this.keys.set(key, { lastEmitAt: now, lastEmittedTs: ts });
      this.emit(event);
      return;
    }
    if (ts < state.lastEmittedTs || (state.pendingTs !== undefined && ts < state.pendingTs)) return;
    if (state.timer === undefined && now - state.lastEmitAt >= this.intervalMs) {
      state.lastEmitAt = now;
      state.lastEmittedTs = ts;
      this.emit(event);
      return;
    }
    state.pending = event;
    state.pendingTs = ts;
    state.timer ??= setTimeout(() => this.flush(key), Math.max(0, state.lastEmitAt + this.intervalMs - now));
  }

  /** Forgets a patient's keys (last watcher left): pending values are dropped, timers cleared. */
  forgetPatient(patientId: string): void {
    const prefix = `${patientId}\u0000`;
    for (const [key, state] of this.keys) {
      if (!key.startsWith(prefix)) continue;
      if (state.timer) clearTimeout(state.timer);
      this.keys.delete(key);
    }
  }

  /** Clears every timer (shutdown). */
  clear(): void {
    for (const state of this.keys.values()) if (state.timer) clearTimeout(state.timer);
    this.keys.clear();
  }

  private flush(key: string): void {
    const state = this.keys.get(key);
    if (!state) return;
    state.timer = undefined;
    const event = state.pending;
    if (!event) return;
    state.pending = undefined;
    state.lastEmittedTs = state.pendingTs!;
    state.pendingTs = undefined;
    state.lastEmitAt = this.now();
    this.emit(event);
  }
}
