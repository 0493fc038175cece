import assert from 'node:assert';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Client } from 'aedes';
import pg from 'pg';
import { AedesPostgresPersistence } from '@lantern/embedded';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

/** The slice of node:test's TestContext that aedes-persistence's abstract suite uses. */
interface AbstractTestContext {
  plan(count: number): void;
  diagnostic(message: string): void;
  readonly assert: typeof assert;
}
type AbstractSuite = (options: {
  test: (name: string, fn: (t: AbstractTestContext) => Promise<void>) => void;
  persistence: () => Promise<object>;
  testAsync: true;
}) => void;

// The conformance suite every aedes persistence must pass, as the package ships it (CommonJS, written
// for node:test): each of its tests becomes a jest test here, with node:test's plan() checked.
const abstractSuite = createRequire(import.meta.url)('aedes-persistence/abstract.js') as AbstractSuite;

function runAbstractSuite(persistence: () => Promise<object>): void {
  abstractSuite({
    testAsync: true,
    persistence,
    test: (name, fn) =>
      it(name, async () => {
        let planned: number | undefined;
        let count = 0;
        const counted = new Proxy(assert, {
          get(target, property, receiver) {
            const value: unknown = Reflect.get(target, property, receiver);
            if (typeof value !== 'function') return value;
            return (...args: unknown[]) => {
              count += 1;
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        });
        await fn({ plan: (n) => (planned = n), diagnostic: () => undefined, assert: counted });
        if (planned !== undefined) expect(count).toBe(planned);
      }),
  });
}

/** Methods that only read: in the reopening variant each is answered by a fresh instance loaded from the tables. */
const PROMISED_READS = new Set([
  'subscriptionsByClient',
  'countOffline',
  'subscriptionsByTopic',
  'incomingGetPacket',
  'getWill',
]);
const STREAMED_READS = new Set([
  'createRetainedStream',
  'createRetainedStreamCombi',
  'outgoingStream',
  'streamWill',
  'getClientList',
]);

describe('AedesPostgresPersistence', () => {
  let database: TestDatabase;
  let pool: pg.Pool;
  let schemas = 0;

  beforeAll(async () => {
    database = await createTestDatabase({ poolSize: 1 });
    pool = new pg.Pool({ connectionString: database.url, max: 4 });
  });

  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  /**
   * A persistence on a schema of its own: every abstract test starts from an empty store. Not
   * exclusive: a schema lock is no part of aedes' contract, and would hold a connection past a
   * failed test.
   */
  const fresh = (options: { keepMessageIds?: boolean } = {}) =>
    new AedesPostgresPersistence({ pool, schema: `broker_abstract_${++schemas}`, exclusive: false, ...options });

  describe("passes aedes-persistence's abstract suite, answered from memory", () => {
    runAbstractSuite(() => Promise.resolve(fresh()));
  });

  describe("passes aedes-persistence's abstract suite with every read answered by a new instance loaded from PostgreSQL", () => {
    // What a restarted broker would see, read by read: proves every change reached the tables and
    // comes back identical. Message ids are kept on reload here: the suite reads them mid-session.
    runAbstractSuite(() => {
      const primary = fresh({ keepMessageIds: true });
      const schema = `broker_abstract_${schemas}`;
      let broker: Parameters<AedesPostgresPersistence['setup']>[0];
      const reopened = async () => {
        await primary.flush();
        const instance = new AedesPostgresPersistence({ pool, schema, keepMessageIds: true, exclusive: false });
        await instance.setup(broker);
        return instance;
      };
      const answering = new Proxy(primary, {
        get(target, property) {
          const value: unknown = Reflect.get(target, property, target);
          if (property === 'setup')
            return async (b: typeof broker) => {
              broker = b;
              await target.setup(b);
            };
          if (typeof property !== 'string' || typeof value !== 'function') return value;
          if (PROMISED_READS.has(property))
            return async (...args: unknown[]) => {
              const instance = await reopened();
              try {
                return await (Reflect.get(instance, property) as (...a: unknown[]) => Promise<unknown>).apply(
                  instance,
                  args,
                );
              } finally {
                await instance.destroy();
              }
            };
          if (STREAMED_READS.has(property))
            return (...args: unknown[]) =>
              Readable.from(
                (async function* () {
                  const instance = await reopened();
                  try {
                    yield* (Reflect.get(instance, property) as (...a: unknown[]) => Readable).apply(instance, args);
                  } finally {
                    await instance.destroy();
                  }
                })(),
              );
          return (value as (...a: unknown[]) => unknown).bind(target);
        },
      });
      return Promise.resolve(answering);
    });
  });

  it('splits a burst of large PUBLISHes over several statements, journalling every one before its acknowledgement', async () => {
    const statements: string[] = [];
    const counting = new Proxy(pool, {
      get(target, property) {
        if (property === 'query')
          return (sql: string, params?: unknown[]) => {
            statements.push(sql);
            return target.query(sql, params);
          };
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const schema = `broker_burst_${++schemas}`;
    const persistence = new AedesPostgresPersistence({ pool: counting, schema });
    await persistence.setup({ id: 'burst-broker', counter: 0 });
    const { authorizePublish } = persistence.brokerOptions((_client, _packet, callback) => callback(null));
    // 20 MiB at once: more than one statement may carry (8 MiB), all waiting for their commit together.
    const acknowledged = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          new Promise<number>((resolve, reject) =>
            authorizePublish(
              { id: 'device' } as Client,
              {
                cmd: 'publish',
                topic: 'lantern/v1/devices/x/telemetry',
                payload: Buffer.alloc(1024 * 1024, i),
                qos: 1,
                retain: false,
                dup: false,
                messageId: i + 1,
              },
              (error) => (error ? reject(error) : resolve(i)),
            ),
          ),
      ),
    );
    expect(acknowledged).toHaveLength(20);
    const inserts = statements.filter((sql) => sql.includes('publish_journal (id'));
    expect(inserts.length).toBeGreaterThanOrEqual(3);
    const { rows } = await pool.query<{ n: number; bytes: number }>(
      `SELECT count(*)::int AS n, sum(length(payload))::int AS bytes FROM ${schema}.publish_journal`,
    );
    expect(rows[0]).toEqual({ n: 20, bytes: 20 * 1024 * 1024 });
    await persistence.destroy();
  });
});
