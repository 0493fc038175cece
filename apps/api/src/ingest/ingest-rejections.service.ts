import { Injectable } from '@nestjs/common';
import { AuditService, type Actor } from '@lantern/auth';
import {
  DeviceRepository,
  RejectionRepository,
  type IngestRejectionRecord,
  type RejectionQuery,
} from '@lantern/storage';

/** Reads the ingest's dead-letter store for admins. Raw payloads are patient data: every read is audited. */
@Injectable()
export class IngestRejectionsService {
  constructor(
    private readonly rejections: RejectionRepository,
    private readonly devices: DeviceRepository,
    private readonly audit: AuditService,
  ) {}

  /**
   * Newest first; `to` before `from` yields nothing rather than an error. Audited as one entry per
   * patient whose device's dead letters were returned (one entry without a patient when none was).
   */
  async list(actor: Actor, query: RejectionQuery): Promise<IngestRejectionRecord[]> {
    const records =
      query.from !== undefined && query.to !== undefined && query.to <= query.from
        ? []
        : await this.rejections.find(query);
    const patientIds = await this.devices.patientIdsOf(records.flatMap((r) => (r.deviceId ? [r.deviceId] : [])));
    await this.audit.recordPerPatient(
      actor,
      {
        action: 'ingest_rejection.list',
        resource: 'ingest_rejection',
        details: {
          returned: records.length,
          ...(query.deviceId === undefined ? {} : { deviceId: query.deviceId }),
          ...(query.from === undefined ? {} : { from: new Date(query.from).toISOString() }),
          ...(query.to === undefined ? {} : { to: new Date(query.to).toISOString() }),
        },
      },
      patientIds,
    );
    return records;
  }
}
