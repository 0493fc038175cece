import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { AlertRuleOverrideRepository, type StoredRuleOverride } from '@lantern/storage';
import { AlertOutputWriter } from './alert-output.writer.js';
import { groupByPatient } from './group-by-patient.js';
import { StreamingCore } from './streaming-core.js';

/**
 * Period of the full re-read of rule overrides: a lost `rules-changed` message (QoS 1 on a clean
 * session) is made good within this time.
 */
export const RULES_RESYNC_MS = 30_000;

/** A stable fingerprint of one patient's overrides ('' for none): equal sets compare equal. */
function overridesFingerprint(overrides: readonly StoredRuleOverride[]): string {
  if (overrides.length === 0) return '';
  const sorted = [...overrides].sort((a, b) => (a.ruleKey < b.ruleKey ? -1 : a.ruleKey > b.ruleKey ? 1 : 0));
  return JSON.stringify(sorted.map((o) => [o.ruleKey, o.enabled, o.params, o.updatedAt]));
}

/**
 * Keeps the engine's rules in step with the patients' rule overrides in the database: all of them
 * applied at start (by AlertStateRebuild), one patient's reloaded when the api announces a change
 * (InternalEventsListener), and all of them re-read every RULES_RESYNC_MS so that a lost
 * announcement is made good. Only a patient whose overrides changed is re-applied (fingerprints),
 * and reads are ordered so that an older read never undoes a newer one. What applying decides (an
 * alert of a disabled rule resolved) goes to the AlertOutputWriter.
 */
@Injectable()
export class RuleOverrideSync implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AlertStreaming');
  private timer: NodeJS.Timeout | undefined;
  /** Fingerprint of the overrides applied per patient (absent: none). */
  private readonly fingerprints = new Map<string, string>();
  /** Orders override reads: a read started before another one's result was applied must not undo it. */
  private reads = 0;
  private readonly readApplied = new Map<string, number>();

  constructor(
    private readonly overrides: AlertRuleOverrideRepository,
    private readonly core: StreamingCore,
    private readonly writer: AlertOutputWriter,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.resyncRules().catch((error: unknown) =>
        this.logger.warn(`Re-reading rule overrides failed: ${(error as Error).message}`),
      );
    }, RULES_RESYNC_MS);
    this.timer.unref();
  }

  /** Stopped before the writer is drained (AlertStreamingService, at shutdown), so that no re-read is queued after it. */
  beforeApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Every override, grouped by patient (one query). */
  async readAll(): Promise<Map<string, StoredRuleOverride[]>> {
    return groupByPatient(await this.overrides.listAll());
  }

  /** Applies the overrides read at start (readAll), before any other read. */
  applyAtStart(byPatient: ReadonlyMap<string, readonly StoredRuleOverride[]>, now: number): void {
    for (const [patientId, list] of byPatient) this.applyOverrides(patientId, list, 0, now);
  }

  /** Reloads one patient's overrides (after `{root}/internal/rules-changed`). */
  async reloadRules(patientId: string): Promise<void> {
    const read = ++this.reads;
    const list = await this.overrides.listForPatient(patientId);
    this.applyOverrides(patientId, list, read, Date.now());
  }

  /**
   * Re-reads every override (one query) and applies those of the patients whose set changed since
   * it was last applied, so a lost `rules-changed` message is made good without re-applying (and
   * re-emitting) anything else. Runs every RULES_RESYNC_MS; public for tests. Returns how many
   * patients were re-applied.
   */
  async resyncRules(now?: number): Promise<number> {
    const read = ++this.reads;
    const byPatient = await this.readAll();
    const at = now ?? Date.now();
    let applied = 0;
    for (const patientId of new Set([...this.fingerprints.keys(), ...byPatient.keys()])) {
      if (this.applyOverrides(patientId, byPatient.get(patientId) ?? [], read, at)) applied += 1;
    }
    if (applied > 0) this.logger.log(`Rule overrides re-read: ${applied} patients' overrides changed and applied`);
    return applied;
  }

  /**
   * Applies one patient's overrides as read by read number `read`, unless they are those already
   * applied or a later read was applied meanwhile. Returns whether they were applied.
   */
  private applyOverrides(patientId: string, list: readonly StoredRuleOverride[], read: number, now: number): boolean {
    if ((this.readApplied.get(patientId) ?? -1) > read) return false;
    const fingerprint = overridesFingerprint(list);
    if (fingerprint === (this.fingerprints.get(patientId) ?? '')) return false;
    try {
      this.writer.enqueue(this.core.engine.setOverrides(patientId, list, now));
    } catch (error) {
      this.logger.error(`Applying the overrides of ${patientId} failed: ${(error as Error).stack ?? String(error)}`);
      return false;
    }
    if (fingerprint === '') this.fingerprints.delete(patientId);
    else this.fingerprints.set(patientId, fingerprint);
    this.readApplied.set(patientId, read);
    return true;
  }
}
