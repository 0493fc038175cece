import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { createDataSource, runMigrations } from '@lantern/storage';

export interface TestDatabase {
  /** URL of the fresh database, for code under test that connects by itself. */
  readonly url: string;
  /** Initialized and migrated. */
  readonly dataSource: DataSource;
  /** Destroys the DataSource and drops the database. */
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run tests through jest (its globalSetup provides one)');
  return url;
}

/** Creates a uniquely named database on the server of DATABASE_URL, runs every migration, returns a DataSource on it. */
export async function createTestDatabase(options: { poolSize?: number } = {}): Promise<TestDatabase> {
  const admin = adminUrl();
  const name = `lantern_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await withAdmin(admin, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(admin);
  url.pathname = `/${name}`;
  const dataSource = createDataSource({
    url: url.toString(),
    poolSize: options.poolSize ?? 4,
    applicationName: 'lantern-test',
  });
  try {
    await dataSource.initialize();
    await runMigrations(dataSource);
  } catch (error) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await withAdmin(admin, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    throw error;
  }
  return {
    url: url.toString(),
    dataSource,
    async drop() {
      if (dataSource.isInitialized) await dataSource.destroy();
      // FORCE: the code under test may still hold connections of its own.
      await withAdmin(admin, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** The login tests act as the apps with: a member of lantern_app, as the app login of a deployment is. */
export const TEST_APP_LOGIN = 'lantern_test_app';

/**
 * `url` (a migrated test database) with {@link TEST_APP_LOGIN} instead of the owner. The login is
 * created once per server (roles are server-wide; the migrations create lantern_app).
 */
export async function appLoginUrl(url: string): Promise<string> {
  const password = 'lantern-test-app-login';
  await withAdmin(adminUrl(), async (client) => {
    await client.query(`
      DO $$
      BEGIN
        CREATE ROLE ${TEST_APP_LOGIN} LOGIN PASSWORD '${password}';
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- another test file made it first
      END $$`);
    await client.query(`GRANT lantern_app TO ${TEST_APP_LOGIN}`);
  });
  const app = new URL(url);
  app.username = TEST_APP_LOGIN;
  app.password = password;
  return app.toString();
}

async function withAdmin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
