import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

/** The transaction open in this async context (a unit of work), if any. */
const open = new AsyncLocalStorage<EntityManager>();

/**
 * The EntityManager every repository query on `db` runs on: the unit of work's when one is open on
 * `db` in this async context, otherwise the data source's own (each statement its own transaction).
 * A continuation that outlives its unit of work (work started inside and left running) finds the
 * transaction's connection released and runs on its own, as it would have without a unit of work.
 */
export function managerOf(db: DataSource): EntityManager {
  const manager = open.getStore();
  return manager !== undefined && manager.dataSource === db && manager.queryRunner?.isReleased !== true
    ? manager
    : db.manager;
}

/**
 * Runs `work` in a transaction on `db` and gives it the manager to query with. Inside a unit of work
 * on `db` it joins it as a savepoint, so a repository's own transaction nests (and a failure it
 * catches and handles rolls back only its part).
 */
export function inTransaction<T>(db: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  const outer = managerOf(db);
  if (outer.queryRunner?.isTransactionActive) return outer.transaction(work);
  return db.transaction((manager) => open.run(manager, () => work(manager)));
}

/**
 * Units of work: every repository call made (awaited) inside {@link run} uses one transaction, which
 * commits when `work` resolves and rolls back when it throws. An audited change runs its change and
 * its audit entry in one, so neither is stored without the other. Do after run() what must follow
 * the commit and never be undone (publishing on the broker, closing sockets).
 */
@Injectable()
export class Transactions {
  constructor(private readonly db: DataSource) {}

  run<T>(work: () => Promise<T>): Promise<T> {
    return inTransaction(this.db, () => work());
  }
}
