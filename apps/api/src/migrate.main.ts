import 'reflect-metadata';
import { loadConfig } from '@lantern/config';
import { createDataSource, runMigrations } from '@lantern/storage';

/**
 * `npm run migration:run`, and compose's one-shot `migrate` service: runs the pending migrations as
 * the database's owner (DATABASE_MIGRATION_URL, else DATABASE_URL) and exits. The apps then work as
 * the app login, which has no DDL rights (docs/security.md, "Database roles").
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const url = config.databaseMigrationUrl ?? config.databaseUrl;
  if (url === undefined) throw new Error('Set DATABASE_MIGRATION_URL (the owner) or DATABASE_URL');
  const dataSource = createDataSource({ url, poolSize: 2, applicationName: 'lantern-migrations' });
  await dataSource.initialize();
  try {
    const ran = await runMigrations(dataSource);
    console.log(ran.length > 0 ? `Ran migrations: ${ran.join(', ')}` : 'The database schema is up to date');
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(`Migrations failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
