import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '@lantern/config';
import { seedDemo } from './seed-demo.js';

/**
 * `npm run seed:demo`: seeds a running Lantern (LANTERN_URL, default http://127.0.0.1:$PORT) as
 * the admin (ADMIN_EMAIL / ADMIN_PASSWORD), prints the logins and writes the device credentials
 * to $DATA_DIR/demo-devices.json and the logins to $DATA_DIR/demo-logins.txt (mode 0600).
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const adminPassword = process.env.ADMIN_PASSWORD;
  if (!adminPassword)
    throw new Error(
      'Set ADMIN_PASSWORD (and ADMIN_EMAIL if not the default) to the admin login of the running Lantern',
    );
  const baseUrl = process.env.LANTERN_URL ?? `http://127.0.0.1:${config.port}`;
  const result = await seedDemo({ baseUrl, adminEmail: config.adminEmail, adminPassword });
  if (!result.created) {
    console.log(
      `The demo care team already exists at ${baseUrl}; nothing created (its passwords were printed when it was seeded).`,
    );
    return;
  }
  const logins = result.logins
    .map((l) => `  ${l.role.padEnd(9)}  ${l.email.padEnd(32)}  ${l.password}   ${l.displayName}`)
    .join('\n');
  console.log(`Demo care team created at ${baseUrl}. Logins:\n\n${logins}`);
  mkdirSync(config.dataDir, { recursive: true });
  // Demo logins only (never real people): kept, owner-readable, so later demo runs can show them again.
  writeFileSync(join(config.dataDir, 'demo-logins.txt'), `${logins}\n`, { mode: 0o600 });
  const file = join(config.dataDir, 'demo-devices.json');
  writeFileSync(file, JSON.stringify({ baseUrl, topicRoot: config.mqttTopicRoot, devices: result.devices }, null, 2), {
    mode: 0o600,
  });
  chmodSync(file, 0o600);
  console.log(`\n${result.devices.length} devices provisioned; their MQTT credentials are in ${file}.`);
}

main().catch((error: unknown) => {
  console.error(`seed:demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
