import { int, url } from './parsers.js';
import type { Setting } from './setting.js';

/** Which PostgreSQL Lantern uses (or the embedded one it starts), as which login, with how many connections. */
export const DATABASE_SETTINGS = {
  databaseUrl: {
    env: 'DATABASE_URL',
    description: 'PostgreSQL/TimescaleDB URL. Unset: an embedded PostgreSQL is started in DATA_DIR.',
    parse: url('postgres:', 'postgresql:'),
  },
  databaseMigrationUrl: {
    env: 'DATABASE_MIGRATION_URL',
    description:
      "The database owner's URL, used only to run migrations; the apps then work as DATABASE_URL's login, a member of lantern_app without DDL rights (docs/security.md). Unset: DATABASE_URL migrates.",
    parse: url('postgres:', 'postgresql:'),
  },
  databasePoolSize: {
    env: 'DATABASE_POOL_SIZE',
    description:
      'Connections per process (1 for PGlite over pglite-socket). With 2 or more the ingest opens one more, its alert lane.',
    default: '10',
    parse: int(1, 200),
  },
  databaseBackendFlushAfterKb: {
    env: 'DATABASE_BACKEND_FLUSH_AFTER_KB',
    description:
      "PostgreSQL's backend_flush_after (kB) for Lantern's own connections: a backend that writes out more than this asks the kernel to write it to disk, instead of leaving hundreds of MB dirty for the kernel's periodic bursts, which stall commits (docs/operations.md). 0: the server's setting.",
    default: '256',
    parse: int(0, 2048),
  },
  embeddedPostgresPort: {
    env: 'EMBEDDED_POSTGRES_PORT',
    description: 'Port of the embedded PostgreSQL.',
    default: '5433',
    parse: int(0, 65535),
  },
} as const satisfies Record<string, Setting<unknown>>;
