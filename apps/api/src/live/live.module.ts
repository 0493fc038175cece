import { Module } from '@nestjs/common';
import { DeviceRepository } from '@lantern/storage';
import { LiveGateway } from './live.gateway.js';
import { LiveRoutingService } from './live-routing.service.js';
import { LiveService } from './live.service.js';
import { PATIENT_DEVICES, type PatientDevices } from './live.tokens.js';

/**
 * Socket.IO `/live` and the broker routing behind it (contract §2). Needs the global ConfigModule,
 * StorageModule, AuthModule and the api's broker connection (ApiBrokerModule).
 */
@Module({
  providers: [
    {
      provide: PATIENT_DEVICES,
      inject: [DeviceRepository],
      useFactory: (devices: DeviceRepository): PatientDevices => ({
        activeDeviceIds: async (patientId) =>
          (await devices.list({ kind: 'all' }, patientId))
            .filter((d) => d.decommissionedAt === undefined)
            .map((d) => d.id),
      }),
    },
    LiveRoutingService,
    LiveService,
    LiveGateway,
  ],
  exports: [LiveService, LiveGateway],
})
export class LiveModule {}
