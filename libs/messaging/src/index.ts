export * from './topics.js';
export * from './ingest-rejection.js';
export * from './telemetry.codec.js';
export * from './status.codec.js';
export * from './broker-events.js';
export * from './mqtt-client.js';
export * from './webhook.js';
export * from './webhook-outbox.service.js';
