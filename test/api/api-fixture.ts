/** The api as the api tests boot it: every role is booted in test/support/boot.ts. */
export * from '../support/boot.js';
