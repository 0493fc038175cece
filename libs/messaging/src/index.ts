export * from './contract.js';
export * from './internal-events.js';
export * from './mqtt-client.js';
export * from './broker-trust.js';
export * from './webhook.js';
export * from './webhook-outbox.service.js';
