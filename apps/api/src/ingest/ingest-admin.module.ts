import { Module } from '@nestjs/common';
import { RejectionRepository } from '@lantern/storage';
import { IngestRejectionsController } from './ingest-rejections.controller.js';
import { IngestRejectionsService } from './ingest-rejections.service.js';

/** Admin view of the ingest: its dead-letter store. */
@Module({ controllers: [IngestRejectionsController], providers: [RejectionRepository, IngestRejectionsService] })
export class IngestAdminModule {}
