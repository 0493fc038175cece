import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

const DAY_MS = 86_400_000;

/** UTC day start (epoch ms) of an instant. */
export function dayStart(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** Name of the daily partition holding `day` (UTC day start): readings_YYYYMMDD. */
export function partitionName(day: number): string {
  return `readings_${new Date(day).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

/** The day (UTC start, epoch ms) a partition name stands for, or undefined for a name that is not ours. */
export function partitionDay(name: string): number | undefined {
  const m = /^readings_(\d{4})(\d{2})(\d{2})$/.exec(name);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : undefined;
}

/**
 * PostgreSQL mode: creates and drops the daily partitions of `readings`. Keeps the days it knows
 * exist so the hot insert path asks the database only for a day it has not seen. One instance per
 * process, shared by the repository and maintenance, so a partition dropped here is forgotten here.
 * The DDL runs in the owner's SECURITY DEFINER functions (migration AppRole1766000000000): the apps'
 * role has no DDL rights of its own.
 */
@Injectable()
export class ReadingPartitions {
  private readonly known = new Set<number>();

  constructor(private readonly dataSource: DataSource) {}

  /** Makes sure a partition exists for each UTC day touched by `times` (epoch ms). */
  async ensureFor(times: Iterable<number>): Promise<void> {
    const missing = new Set<number>();
    for (const t of times) {
      const day = dayStart(t);
      if (!this.known.has(day)) missing.add(day);
    }
    for (const day of missing) await this.create(day);
  }

  /** Creates the partitions of today and the `daysAhead` following days. */
  async ensureAhead(now: number, daysAhead: number): Promise<void> {
    const today = dayStart(now);
    for (let i = 0; i <= daysAhead; i++) if (!this.known.has(today + i * DAY_MS)) await this.create(today + i * DAY_MS);
  }

  /** Forgets what it knew, after a failed insert that says a partition is missing (another process dropped it). */
  forget(): void {
    this.known.clear();
  }

  /** Drops every partition whose whole day lies before `cutoff` (epoch ms); returns their names. */
  async dropBefore(cutoff: number): Promise<string[]> {
    const rows: { name: string }[] = await this.dataSource.query(
      `SELECT name FROM lantern_drop_reading_partitions_before($1) AS name`,
      [new Date(cutoff)],
    );
    const dropped = rows.map((row) => row.name);
    for (const name of dropped) {
      const day = partitionDay(name);
      if (day !== undefined) this.known.delete(day);
    }
    return dropped.sort();
  }

  /** Creates the partition of `day` unless it exists (another process may be creating it too). */
  private async create(day: number): Promise<void> {
    await this.dataSource.query(`SELECT lantern_ensure_reading_partition($1::date)`, [
      new Date(day).toISOString().slice(0, 10),
    ]);
    this.known.add(day);
  }
}

/** True for PostgreSQL's "no partition of relation found for row". */
export function isMissingPartition(error: unknown): boolean {
  return (error as { code?: string }).code === '23514' && /no partition/i.test(String((error as Error).message));
}
