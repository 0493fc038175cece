import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { AuditService, PatientAccessService, type Actor, type PatientGrant, type Principal } from '@lantern/auth';
import { CareCircleRepository } from '@lantern/storage';
import type { SharingScope } from '@lantern/domain';
import type { LiveBroadcaster } from './live-broadcaster.js';
import { LiveRoutingService } from './live-routing.service.js';
import { registerLiveMetrics } from './live.metrics.js';

/**
 * Who may watch which patient on `/live`, decided by the same visibility rule as REST
 * (PatientAccessService), and the bookkeeping of local watchers that drives broker routing.
 */
@Injectable()
export class LiveService implements OnModuleDestroy {
  private sockets = 0;
  private readonly unregisterMetrics: () => void;

  constructor(
    private readonly access: PatientAccessService,
    private readonly audit: AuditService,
    private readonly routing: LiveRoutingService,
    private readonly careCircle: CareCircleRepository,
  ) {
    this.unregisterMetrics = registerLiveMetrics({
      connectedSockets: () => this.sockets,
      watchedPatients: () => this.routing.watched().size,
    });
  }

  onModuleDestroy(): void {
    this.unregisterMetrics();
  }

  attach(broadcaster: LiveBroadcaster): void {
    this.routing.attach(broadcaster);
  }

  /** Sockets connected to this instance (for /metrics). */
  connectedSockets(): number {
    return this.sockets;
  }

  socketConnected(_principal: Principal): void {
    this.sockets += 1;
  }

  socketDisconnected(): void {
    this.sockets = Math.max(0, this.sockets - 1);
  }

  /**
   * What the caller may watch of the patient, once routing is in place; undefined (answered
   * `not_found`) for an unknown patient and for one the caller may not see alike: the answer never
   * tells which. A caregiver's grant names the shared scopes, which decide the events they receive.
   */
  async subscribe(actor: Actor, patientId: string): Promise<PatientGrant | undefined> {
    const grant = await this.access.grantOf(actor.principal, patientId);
    if (grant === undefined) return undefined;
    // Watching a patient live is reading their data: recorded like every REST read.
    await this.audit.record(actor, { action: 'live.subscribe', patientId, resource: 'live' });
    await this.routing.watch(patientId);
    return grant;
  }

  /** The live scopes of caregivers' subscriptions, in one query (see CareCircleRepository.scopesOfMany). */
  sharedScopes(
    pairs: readonly { readonly caregiverId: string; readonly patientId: string }[],
  ): Promise<Map<string, SharingScope[]>> {
    return this.careCircle.scopesOfMany(pairs);
  }

  /** The visibility rule again, for subscriptions already granted: which of these patients `principal` may still watch. */
  stillWatchable(principal: Principal, patientIds: readonly string[]): Promise<Set<string>> {
    return this.access.visibleAmong(principal, patientIds);
  }

  async unsubscribe(patientId: string): Promise<void> {
    await this.routing.unwatch(patientId);
  }
}
