import webpush from 'web-push';

const keys = webpush.generateVAPIDKeys();

/**
 * A VAPID key pair for the api a test boots: without one the api generates its own into DATA_DIR,
 * which tests leave unset (a file in the working tree of every test run).
 */
export const TEST_VAPID = {
  VAPID_PUBLIC_KEY: keys.publicKey,
  VAPID_PRIVATE_KEY: keys.privateKey,
  VAPID_SUBJECT: 'mailto:tests@lantern.test',
} as const;
