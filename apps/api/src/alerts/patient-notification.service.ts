import { Injectable } from '@nestjs/common';
import {
  ForbiddenError,
  NotFoundError,
  toNotificationResource,
  type PatientNotificationResource,
} from '@lantern/domain';
import { AuditService, type Actor } from '@lantern/auth';
import { PatientNotificationRepository, Transactions } from '@lantern/storage';

/** The signed-in patient's messages (contract §3.5), one item per thread; every read is audited. */
@Injectable()
export class PatientNotificationService {
  constructor(
    private readonly notifications: PatientNotificationRepository,
    private readonly audit: AuditService,
    private readonly transactions: Transactions,
  ) {}

  async myNotifications(
    actor: Actor,
    options: { limit: number; offset: number; unreadOnly: boolean },
  ): Promise<{ items: PatientNotificationResource[]; total: number }> {
    const patientId = this.ownPatient(actor);
    const page = await this.notifications.listForPatient(patientId, options);
    await this.audit.record(actor, {
      action: 'notification.list',
      patientId,
      resource: 'notification',
      details: { count: page.items.length, total: page.total, unreadOnly: options.unreadOnly },
    });
    return { items: page.items.map((n) => toNotificationResource(n)), total: page.total };
  }

  async markRead(actor: Actor, notificationId: string): Promise<PatientNotificationResource> {
    const patientId = this.ownPatient(actor);
    const stored = await this.transactions.run(async () => {
      const read = await this.notifications.markRead(patientId, notificationId, Date.now());
      if (!read) throw new NotFoundError('Notification', notificationId);
      await this.audit.record(actor, {
        action: 'notification.read',
        patientId,
        resource: 'notification',
        resourceId: read.id,
      });
      return read;
    });
    return toNotificationResource(stored);
  }

  private ownPatient(actor: Actor): string {
    if (actor.principal.role !== 'patient' || !actor.principal.patientId)
      throw new ForbiddenError('Notifications are for patient users');
    return actor.principal.patientId;
  }
}
