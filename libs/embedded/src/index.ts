export * from './port-taken.error.js';
export * from './embedded-postgres.js';
export * from './device-credential.lookup.js';
export * from './embedded-broker.js';
export * from './aedes-postgres.persistence.js';
export * from './broker-certificate.js';
