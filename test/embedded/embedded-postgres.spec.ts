import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { findFreePort, PortTakenError, startEmbeddedPostgres } from '@lantern/embedded';

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('startEmbeddedPostgres', () => {
  // mkdtemp makes a 0700 folder: the start must open it for the postgres user.
  const dataDir = mkdtempSync(join(tmpdir(), 'lantern-embedded-pg-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('runs PostgreSQL 18 and keeps its data across a stop and a start in the same folder', async () => {
    const port = await findFreePort();
    const first = await startEmbeddedPostgres({ dataDir, port });
    try {
      expect(first.url).toMatch(new RegExp(`^postgres://postgres:[^@]+@127\\.0\\.0\\.1:${port}/lantern$`));
      const [{ server_version_num }] = await query<{ server_version_num: string }>(
        first.url,
        'SHOW server_version_num',
      );
      expect(Number(server_version_num)).toBeGreaterThanOrEqual(180000);
      await query(first.url, "CREATE TABLE kept (note text); INSERT INTO kept VALUES ('survives a restart')");
    } finally {
      await first.stop();
    }
    expect(statSync(dataDir).mode & 0o001).toBe(0o001);
    const initialisedAt = statSync(join(dataDir, 'postgres/PG_VERSION')).mtimeMs;
    const password = readFileSync(join(dataDir, 'postgres-password'), 'utf8');

    const second = await startEmbeddedPostgres({ dataDir, port: await findFreePort() });
    try {
      expect(await query(second.url, 'SELECT note FROM kept')).toEqual([{ note: 'survives a restart' }]);
      expect(statSync(join(dataDir, 'postgres/PG_VERSION')).mtimeMs).toBe(initialisedAt);
      expect(readFileSync(join(dataDir, 'postgres-password'), 'utf8')).toBe(password);
    } finally {
      await second.stop();
    }
    await expect(query(second.url, 'SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('refuses a taken port with a one-line error naming the port and the variables', async () => {
    const blocker: Server = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)),
    );
    try {
      const error = await startEmbeddedPostgres({ dataDir, port }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PortTakenError);
      expect((error as Error).message).toBe(
        `Port ${port} is taken: set EMBEDDED_POSTGRES_PORT to a free port, or DATABASE_URL to use an existing database`,
      );
    } finally {
      blocker.close();
    }
  });
});
