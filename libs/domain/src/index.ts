export * from './metric-catalog.js';
export * from './device-type-catalog.js';
export * from './units.js';
export * from './reading.js';
export * from './alert.js';
export * from './people.js';
export * from './live-events.js';
export * from './domain-error.js';
