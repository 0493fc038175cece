import { Module } from '@nestjs/common';
import { AuthModule } from '@lantern/auth';
import { ConfigModule } from '@lantern/config';
import { StorageModule } from '@lantern/storage';
import { AuditModule } from './audit/audit.module.js';
import { ApiBrokerModule } from './broker/api-broker.module.js';
import { AuthApiModule } from './auth/auth-api.module.js';
import { DevicesModule } from './devices/devices.module.js';
import { MqttAuthModule } from './mqtt-auth/mqtt-auth.module.js';
import { OpsModule } from './ops/ops.module.js';
import { PatientsModule } from './patients/patients.module.js';
import { UsersModule } from './users/users.module.js';
import { DashboardModule } from './dashboard/dashboard.module.js';
import { LiveModule } from './live/live.module.js';
import { ReadingsModule } from './readings/readings.module.js';
import { AlertsModule } from './alerts/alerts.module.js';
import { IngestAdminModule } from './ingest/ingest-admin.module.js';
import { FhirModule } from './fhir/fhir.module.js';
import { CareCircleModule } from './care-circle/care-circle.module.js';
import { SettingsModule } from './settings/settings.module.js';
import { EscalationModule } from './escalation/escalation.module.js';

/** The api role. Feature modules: append to the list. */
@Module({
  imports: [
    ConfigModule,
    StorageModule.forRoot({ applicationName: 'lantern-api' }),
    ApiBrokerModule,
    AuthModule,
    AuthApiModule,
    UsersModule,
    PatientsModule,
    DevicesModule,
    MqttAuthModule,
    AuditModule,
    OpsModule,
    DashboardModule,
    LiveModule,
    ReadingsModule,
    IngestAdminModule,
    AlertsModule,
    FhirModule,
    CareCircleModule,
    SettingsModule,
    EscalationModule,
  ],
})
export class ApiModule {}
