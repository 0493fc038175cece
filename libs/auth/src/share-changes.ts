import { Injectable, Logger } from '@nestjs/common';

/** A caregiver whose share of a patient changed (scopes changed, or revoked). */
export interface ShareChange {
  readonly caregiverId: string;
  readonly patientId: string;
}

/**
 * Announces, in this process, shares changed by this process, after the change committed: the
 * socket gateway re-checks that caregiver's subscriptions at once instead of at its next sweep
 * (the sweep finds changes made by other api instances). The same pattern as SessionService.onRevoked.
 */
@Injectable()
export class ShareChanges {
  private readonly logger = new Logger('ShareChanges');
  private readonly listeners = new Set<(changes: readonly ShareChange[]) => void>();

  /** Listens to changes; returns the function that stops listening. */
  onChanged(listener: (changes: readonly ShareChange[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  announce(changes: readonly ShareChange[]): void {
    if (changes.length === 0) return;
    for (const listener of this.listeners) {
      try {
        listener(changes);
      } catch (error) {
        this.logger.error(`share change listener failed: ${String(error)}`);
      }
    }
  }
}
