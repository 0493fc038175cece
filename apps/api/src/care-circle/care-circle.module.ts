import { Module } from '@nestjs/common';
import { AuditRepository } from '@lantern/storage';
import { CareCircleController } from './care-circle.controller.js';
import { CareCircleService } from './care-circle.service.js';

@Module({ controllers: [CareCircleController], providers: [CareCircleService, AuditRepository] })
export class CareCircleModule {}
