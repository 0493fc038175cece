import { Module } from '@nestjs/common';
import { DeviceRepository } from '@lantern/storage';
import { LiveAuthService } from './live-auth.service.js';
import { LiveGateway } from './live.gateway.js';
import { LiveRoutingService } from './live-routing.service.js';
import { LiveService } from './live.service.js';
import { LiveSockets } from './live-sockets.js';
import { LiveSubscriptionsService } from './live-subscriptions.service.js';
import { PATIENT_DEVICES, type PatientDevices } from './live.tokens.js';
import { SocketBroadcaster } from './socket-broadcaster.js';

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
        activeDeviceIds: (patientIds) => devices.activeIdsByPatient(patientIds),
      }),
    },
    LiveRoutingService,
    LiveService,
    LiveSockets,
    SocketBroadcaster,
    LiveSubscriptionsService,
    LiveAuthService,
    LiveGateway,
  ],
  exports: [LiveService, SocketBroadcaster],
})
export class LiveModule {}
