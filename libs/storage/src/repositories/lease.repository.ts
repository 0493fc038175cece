import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** Named, expiring leases in PostgreSQL: one holder at a time, taken over once it expires. */
@Injectable()
export class LeaseRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Takes or renews the lease `name` for `holder` until `ttlMs` from now (database clock): succeeds
   * when it is free, expired or already `holder`'s. One statement, so two contenders never both win.
   */
  async tryAcquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const rows: { holder: string }[] = await this.dataSource.query(
      `INSERT INTO leases (name, holder, expires_at)
       VALUES ($1, $2, now() + make_interval(secs => $3::double precision / 1000))
       ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
        WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < now()
       RETURNING holder`,
      [name, holder, ttlMs],
    );
    return rows.length === 1;
  }

  /** Gives the lease up at once (an orderly stop), if `holder` has it. */
  async release(name: string, holder: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM leases WHERE name = $1 AND holder = $2`, [name, holder]);
  }
}
