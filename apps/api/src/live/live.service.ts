import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { AuditService, PatientAccessService, type Actor, type Principal } from '@lantern/auth';
import type { SubscribeAck } from '@lantern/domain';
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

  /** `not_found` for an unknown patient and for one the caller may not see alike: the answer never tells which. */
  async subscribe(actor: Actor, patientId: string): Promise<SubscribeAck> {
    if (!(await this.access.canSeePatient(actor.principal, patientId))) return { ok: false, error: 'not_found' };
    // Watching a patient live is reading their data: recorded like every REST read.
    await this.audit.record(actor, { action: 'live.subscribe', patientId, resource: 'live' });
    await this.routing.watch(patientId);
    return { ok: true };
  }

  /** The visibility rule again, for subscriptions already granted. */
  canWatch(principal: Principal, patientId: string): Promise<boolean> {
    return this.access.canSeePatient(principal, patientId);
  }

  async unsubscribe(patientId: string): Promise<void> {
    await this.routing.unwatch(patientId);
  }
}
