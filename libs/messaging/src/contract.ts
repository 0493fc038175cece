/**
 * The MQTT wire contract (spec/contract.md) as code: topic names, the payload codecs and their
 * limits, the events Lantern publishes. Pure — it needs only libs/domain — so the device simulator
 * and the bench import this entry (`@lantern/messaging/contract`) and never load Lantern's MQTT
 * client, storage or Nest through the `@lantern/messaging` barrel (.dependency-cruiser.cjs checks it).
 */
export * from './topics.js';
export * from './ingest-rejection.js';
export * from './telemetry.codec.js';
export * from './status.codec.js';
export * from './broker-events.js';
