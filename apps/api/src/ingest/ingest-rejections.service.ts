import { Injectable } from '@nestjs/common';
import { RejectionRepository, type IngestRejectionRecord, type RejectionQuery } from '@lantern/storage';

/** Reads the ingest's dead-letter store for admins. */
@Injectable()
export class IngestRejectionsService {
  constructor(private readonly rejections: RejectionRepository) {}

  /** Newest first; `to` before `from` yields nothing rather than an error. */
  async list(query: RejectionQuery): Promise<IngestRejectionRecord[]> {
    if (query.from !== undefined && query.to !== undefined && query.to <= query.from) return [];
    return this.rejections.find(query);
  }
}
