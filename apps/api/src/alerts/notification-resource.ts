import type { PatientNotificationResource } from '@lantern/domain';
import type { NotificationThread, StoredNotification } from '@lantern/storage';

/**
 * The §2 notification resource of a stored notification or of a patient thread (spec/alerting.md
 * §5; `thread`: the thread a message just stored was filed in — its live event then says `update`).
 */
export function toNotificationResource(
  n: StoredNotification | NotificationThread,
  thread: string = n.id,
): PatientNotificationResource & { readAt?: string } {
  const createdAt = new Date(n.createdAt).toISOString();
  return {
    id: thread,
    patientId: n.patientId,
    kind: n.kind,
    severity: n.severity,
    title: n.title,
    body: n.body,
    createdAt,
    ...(n.alertId === null ? {} : { alertId: n.alertId }),
    ...(n.readAt === null ? {} : { readAt: new Date(n.readAt).toISOString() }),
    ...('updates' in n
      ? {
          updatedAt: new Date(n.updatedAt).toISOString(),
          updates: n.updates,
          history: n.history.map((m) => ({ ...m, createdAt: new Date(m.createdAt).toISOString() })),
        }
      : {}),
    ...(thread === n.id ? {} : { update: true, updatedAt: createdAt }),
  };
}
