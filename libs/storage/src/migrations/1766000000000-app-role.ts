import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The role the apps act as (their login is a member); cluster-wide, so one name for every Lantern database. */
export const APP_ROLE = 'lantern_app';

/**
 * The apps stop being the database's owner (docs/security.md, "Database roles"):
 * - `audit_log` refuses UPDATE, DELETE and TRUNCATE for everyone, the owner included (a statement
 *   trigger: it fires even when no row matches). Retention is an owner operation that disables the
 *   trigger explicitly.
 * - The role `lantern_app` (NOLOGIN) is created when the migrating user may create roles, and gets
 *   what the apps need: data on every table (only SELECT and INSERT on `audit_log`, only SELECT on
 *   `migrations`), the sequences, and the same on tables later migrations create. No DDL.
 * - The DDL the apps do at run time goes through SECURITY DEFINER functions owned by the owner, with
 *   a fixed search_path: PostgreSQL mode creates and drops daily partitions, TimescaleDB mode applies
 *   its policies (their intervals are configuration, so they are applied at start, not here).
 * Where the migrating user may not create roles (some managed databases), the operator creates
 * `lantern_app` and then runs `SELECT lantern_grant_app_role()` as the owner.
 */
export class AppRole1766000000000 implements MigrationInterface {
  name = 'AppRole1766000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
          USING ERRCODE = 'insufficient_privilege',
                HINT = 'Retention of the audit log is an owner operation (docs/security.md).';
      END $$`);
    await q.query(`
      CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()`);

    const facts = (await q.query(`
      SELECT (SELECT oid::regnamespace::text FROM pg_namespace WHERE nspname = current_schema()) AS schema,
             (SELECT relkind::text FROM pg_class WHERE oid = to_regclass('readings')) AS mode,
             (SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'timescaledb') AS extension`)) as {
      schema: string;
      mode: string | null;
      extension: string | null;
    }[];
    const { schema, mode, extension } = facts[0];
    // Fixed, so a caller cannot put objects of its own in front of ours; pg_temp last for the same reason.
    const searchPath = [...new Set([schema, ...(extension === null ? [] : [extension])]), 'pg_temp'].join(', ');
    if (mode === 'p') await this.partitionFunctions(q, searchPath);
    else await this.timescalePolicyFunction(q, searchPath);
    for (const fn of MAINTENANCE_FUNCTIONS[mode === 'p' ? 'postgres' : 'timescaledb'])
      await q.query(`REVOKE EXECUTE ON FUNCTION ${fn} FROM PUBLIC`);

    await q.query(GRANT_FUNCTION);
    await q.query(`REVOKE EXECUTE ON FUNCTION lantern_grant_app_role() FROM PUBLIC`);
    await q.query(`
      DO $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${APP_ROLE}')
           AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
          CREATE ROLE ${APP_ROLE} NOLOGIN;
        END IF;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- created meanwhile by the migration of another database on this server
      END $$`);
    const granted = (await q.query(`SELECT lantern_grant_app_role() AS granted`)) as { granted: boolean }[];
    // A notice would go unseen (TypeORM does not log them): say it as a warning.
    if (!granted[0].granted)
      q.dataSource.logger.log(
        'warn',
        `Role ${APP_ROLE} does not exist and this login may not create roles: the apps can only run as the owner until an operator runs CREATE ROLE ${APP_ROLE} NOLOGIN and then SELECT lantern_grant_app_role() as the owner (docs/security.md, "Database roles")`,
      );
  }

  /** PostgreSQL mode: partitions are made ahead and on demand by the ingest, and dropped by retention. */
  private async partitionFunctions(q: QueryRunner, searchPath: string): Promise<void> {
    await q.query(`
      CREATE FUNCTION lantern_ensure_reading_partition(day date) RETURNS void
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = ${searchPath} AS $$
      BEGIN
        EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF readings FOR VALUES FROM (%L) TO (%L)',
                       'readings_' || to_char(day, 'YYYYMMDD'), day::text || ' 00:00+00', (day + 1)::text || ' 00:00+00');
      EXCEPTION WHEN duplicate_table OR unique_violation THEN
        NULL; -- another process created it between the IF NOT EXISTS check and the catalog insert
      END $$`);
    await q.query(`
      CREATE FUNCTION lantern_drop_reading_partitions_before(cutoff timestamptz) RETURNS SETOF text
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = ${searchPath} AS $$
      DECLARE
        part text;
      BEGIN
        -- Only whole days before the cutoff, and only partitions named as this migration names them.
        FOR part IN
          SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'readings'::regclass AND c.relname ~ '^readings_[0-9]{8}$'
             AND (to_date(substr(c.relname, 10), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' <= cutoff
           ORDER BY 1
        LOOP
          EXECUTE format('DROP TABLE IF EXISTS %I', part);
          RETURN NEXT part;
        END LOOP;
      END $$`);
  }

  /**
   * TimescaleDB mode: replaces the compression, retention and refresh policies (the same statements
   * StorageMaintenanceService ran itself while it was the owner). The jobs run as the owner.
   */
  private async timescalePolicyFunction(q: QueryRunner, searchPath: string): Promise<void> {
    await q.query(`
      CREATE FUNCTION lantern_apply_timescale_policies(
        compress_after interval, raw_retention interval, rollup_retention interval, refresh_look_back interval
      ) RETURNS void
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = ${searchPath} AS $$
      DECLARE
        version int[] := (SELECT string_to_array(split_part(extversion, '-', 1), '.')::int[]
                            FROM pg_extension WHERE extname = 'timescaledb');
        cagg record;
      BEGIN
        PERFORM remove_compression_policy('readings', if_exists => true);
        PERFORM add_compression_policy('readings', compress_after => compress_after);
        PERFORM remove_retention_policy('readings', if_exists => true);
        PERFORM add_retention_policy('readings', drop_after => raw_retention);
        FOR cagg IN
          SELECT * FROM (VALUES ('readings_1m'::regclass, interval '1 minute', interval '1 minute'),
                                ('readings_1h'::regclass, interval '1 hour', interval '15 minutes')) AS a (relation, width, schedule)
        LOOP
          PERFORM remove_continuous_aggregate_policy(cagg.relation, if_exists => true);
          -- Since 2.19 a refresh works in batches of buckets_per_batch buckets, by default one:
          -- a day per batch keeps each transaction bounded without thousands of tiny ones.
          IF version >= ARRAY[2, 19] THEN
            PERFORM add_continuous_aggregate_policy(cagg.relation, start_offset => refresh_look_back,
              end_offset => cagg.width, schedule_interval => cagg.schedule,
              buckets_per_batch => (extract(epoch FROM interval '1 day') / extract(epoch FROM cagg.width))::int);
          ELSE
            PERFORM add_continuous_aggregate_policy(cagg.relation, start_offset => refresh_look_back,
              end_offset => cagg.width, schedule_interval => cagg.schedule);
          END IF;
          PERFORM remove_retention_policy(cagg.relation, if_exists => true);
          PERFORM add_retention_policy(cagg.relation, drop_after => rollup_retention);
        END LOOP;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$
      BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN
          EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM ${APP_ROLE}', current_schema());
          EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM ${APP_ROLE}', current_schema());
          EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON TABLES FROM ${APP_ROLE}', current_schema());
          EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON SEQUENCES FROM ${APP_ROLE}', current_schema());
          EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM ${APP_ROLE}', current_schema());
        END IF;
      END $$`);
    await q.query(`DROP FUNCTION IF EXISTS lantern_grant_app_role()`);
    for (const fn of [...MAINTENANCE_FUNCTIONS.postgres, ...MAINTENANCE_FUNCTIONS.timescaledb])
      await q.query(`DROP FUNCTION IF EXISTS ${fn}`);
    await q.query(`DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log`);
    await q.query(`DROP FUNCTION IF EXISTS audit_log_append_only()`);
  }
}

/** The SECURITY DEFINER functions the app role may execute, per storage mode. */
const MAINTENANCE_FUNCTIONS = {
  postgres: ['lantern_ensure_reading_partition(date)', 'lantern_drop_reading_partitions_before(timestamptz)'],
  timescaledb: ['lantern_apply_timescale_policies(interval, interval, interval, interval)'],
} as const;

/**
 * Grants `lantern_app` what the apps need in the current schema, idempotently; false (with a notice)
 * when the role does not exist. Not SECURITY DEFINER: whoever runs it grants as themselves (the owner).
 */
const GRANT_FUNCTION = `
  CREATE FUNCTION lantern_grant_app_role() RETURNS boolean LANGUAGE plpgsql AS $$
  DECLARE
    schema text := current_schema();
    fn regprocedure;
  BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN
      RAISE NOTICE 'Role ${APP_ROLE} does not exist and % may not create it: create it (CREATE ROLE ${APP_ROLE} NOLOGIN), then run SELECT lantern_grant_app_role() as %', current_user, current_user;
      RETURN false;
    END IF;
    -- PostgreSQL 14 and older let every role create tables in public; the apps must not.
    EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM PUBLIC', schema);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO ${APP_ROLE}', schema);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO ${APP_ROLE}', schema);
    EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO ${APP_ROLE}', schema);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${APP_ROLE}', schema);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO ${APP_ROLE}', schema);
    REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM ${APP_ROLE};
    -- The apps check that nothing is pending; only the owner records a migration.
    IF to_regclass('migrations') IS NOT NULL THEN
      REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON migrations FROM ${APP_ROLE};
    END IF;
    FOR fn IN
      SELECT p.oid::regprocedure FROM pg_proc p
       WHERE p.pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = schema) AND p.prosecdef
         AND p.proname IN ('lantern_ensure_reading_partition', 'lantern_drop_reading_partitions_before',
                           'lantern_apply_timescale_policies')
    LOOP
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO ${APP_ROLE}', fn);
    END LOOP;
    RETURN true;
  END $$`;
