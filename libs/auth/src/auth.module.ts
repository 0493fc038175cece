import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import {
  AuditRepository,
  CareCircleRepository,
  CareTeamRepository,
  DeviceRepository,
  PatientRepository,
  SessionRepository,
  UserRepository,
} from '@lantern/storage';
import { AccessTokenGuard } from './access-token.guard.js';
import { AccessTokenService } from './access-token.service.js';
import { AuditService } from './audit.service.js';
import { MqttAccessService } from './mqtt-access.service.js';
import { PatientAccessService } from './patient-access.service.js';
import { SessionService } from './session.service.js';
import { UserService } from './user.service.js';
import { InvitationService } from './invitation.service.js';
import { ShareChanges } from './share-changes.js';

const EXPORTED = [
  AccessTokenService,
  PatientAccessService,
  AuditService,
  UserService,
  SessionService,
  MqttAccessService,
  InvitationService,
  ShareChanges,
];

/**
 * Identity and access for the api role. Global, so every feature module can inject
 * PatientAccessService and AuditService; registers the access-token guard for every HTTP route.
 * Needs the global ConfigModule and StorageModule (DataSource).
 */
@Global()
@Module({
  providers: [
    ...EXPORTED,
    UserRepository,
    SessionRepository,
    PatientRepository,
    CareTeamRepository,
    CareCircleRepository,
    DeviceRepository,
    AuditRepository,
    { provide: APP_GUARD, useClass: AccessTokenGuard },
  ],
  exports: [...EXPORTED, UserRepository, PatientRepository, CareTeamRepository, CareCircleRepository, DeviceRepository],
})
export class AuthModule {}
