import { Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { ServiceMqttClient } from '@lantern/messaging';
import { API_BROKER } from './api-broker.tokens.js';
import { ApiEventPublisher } from './api-event.publisher.js';

/**
 * Owns the api role's single broker connection, so /health reports the very connection that carries
 * live events and announcements. Opened without waiting (ServiceMqttClient.open): the api serves
 * HTTP, and /health says "broker down", while the broker is unreachable; closed at shutdown.
 */
@Global()
@Module({
  providers: [
    {
      provide: API_BROKER,
      inject: [LANTERN_CONFIG],
      useFactory: (config: LanternConfig): ServiceMqttClient => {
        const logger = new Logger('ApiBroker');
        return ServiceMqttClient.forRole(config, 'lantern-api', (error) =>
          logger.warn(`Broker connection: ${error.message} (retrying every second)`),
        );
      },
    },
    ApiEventPublisher,
  ],
  exports: [API_BROKER, ApiEventPublisher],
})
export class ApiBrokerModule implements OnApplicationShutdown {
  constructor(@Inject(API_BROKER) private readonly broker: ServiceMqttClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.broker.close();
  }
}
