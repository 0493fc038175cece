export * from './data-source.js';
export * from './storage-mode.js';
export * from './storage.module.js';
export * from './transactions.js';
export { APP_ROLE } from './migrations/1766000000000-app-role.js';
export * from './repositories/reading.repository.js';
export * from './repositories/reading-history.repository.js';
export { InvalidCursorError } from './repositories/reading-cursor.js';
export * from './maintenance/reading-partitions.js';
export * from './maintenance/reading-rollup.service.js';
export * from './maintenance/storage-maintenance.service.js';
export * from './repositories/sql-helpers.js';
export * from './repositories/user.repository.js';
export * from './repositories/session.repository.js';
export * from './repositories/patient.repository.js';
export * from './repositories/care-team.repository.js';
export * from './repositories/care-circle.repository.js';
export * from './repositories/device.repository.js';
export * from './repositories/audit.repository.js';
export * from './repositories/rejection.repository.js';
export * from './repositories/device-status.repository.js';
export * from './repositories/alert-row.js';
export * from './repositories/alert.repository.js';
export * from './repositories/alert-transition.repository.js';
export * from './repositories/escalation.repository.js';
export * from './repositories/alert-delivery.repository.js';
export * from './repositories/alert-rule-override.repository.js';
export * from './repositories/patient-notification.repository.js';
export * from './repositories/patient-settings.repository.js';
export * from './repositories/ingest-instance.repository.js';
export * from './repositories/lease.repository.js';
export * from './repositories/webhook-delivery.repository.js';
export * from './repositories/device-credential.repository.js';
export * from './repositories/aedes-postgres.repository.js';
export * from './repositories/broker/broker-changes.js';
export {
  decodeBrokerPacket,
  encodeBrokerPacket,
  type BrokerPacket,
  type EncodedPacket,
} from './repositories/broker/broker-packet.codec.js';
export { BrokerSchemaInUseError } from './repositories/broker/broker-schema.repository.js';
export * from './repositories/push-subscription.repository.js';
