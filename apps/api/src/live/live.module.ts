import { Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { brokerTrust, ServiceMqttClient } from '@lantern/messaging';
import { DeviceRepository } from '@lantern/storage';
import { LiveGateway } from './live.gateway.js';
import { LiveRoutingService } from './live-routing.service.js';
import { LiveService } from './live.service.js';
import { LIVE_MQTT_CLIENT, PATIENT_DEVICES, type PatientDevices } from './live.tokens.js';

/**
 * Socket.IO `/live` and the broker routing behind it (contract §2). Needs the global ConfigModule,
 * StorageModule and AuthModule. Opens its own broker connection, closed at shutdown.
 */
@Module({
  providers: [
    {
      provide: LIVE_MQTT_CLIENT,
      inject: [LANTERN_CONFIG],
      useFactory: (config: LanternConfig): ServiceMqttClient => {
        // Not awaited: the api serves HTTP (and /health says "broker down") while the broker is
        // unreachable; live delivery starts when the connection does. One warning per distinct error.
        const logger = new Logger('LiveBroker');
        let last = '';
        return ServiceMqttClient.open(
          {
            // With no MQTT_URL the supervisor runs the embedded broker on EMBEDDED_MQTT_PORT.
            url: config.mqttUrl ?? `mqtt://127.0.0.1:${config.embeddedMqttPort}`,
            username: config.mqttUsername,
            password: config.mqttPassword,
            clientIdPrefix: 'lantern-api-live',
            ...brokerTrust(config.mqttCaFile),
          },
          (error) => {
            if (error.message !== last) logger.warn(`Broker connection: ${error.message} (retrying every second)`);
            last = error.message;
          },
        );
      },
    },
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
  exports: [LiveService, LIVE_MQTT_CLIENT],
})
export class LiveModule implements OnApplicationShutdown {
  constructor(@Inject(LIVE_MQTT_CLIENT) private readonly mqtt: ServiceMqttClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.mqtt.close();
  }
}
