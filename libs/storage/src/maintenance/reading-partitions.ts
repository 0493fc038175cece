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
    const rows: { name: string }[] = await this.dataSource.query(`
      SELECT c.relname AS name
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'readings'::regclass`);
    const dropped: string[] = [];
    for (const { name } of rows) {
      const day = partitionDay(name);
      if (day === undefined || day + DAY_MS > cutoff) continue;
      await this.dataSource.query(`DROP TABLE IF EXISTS ${name}`);
      this.known.delete(day);
      dropped.push(name);
    }
    return dropped.sort();
  }

  private async create(day: number): Promise<void> {
    const from = new Date(day).toISOString();
    const to = new Date(day + DAY_MS).toISOString();
    try {
      await this.dataSource.query(
        `CREATE TABLE IF NOT EXISTS ${partitionName(day)} PARTITION OF readings FOR VALUES FROM ('${from}') TO ('${to}')`,
      );
    } catch (error) {
      // Another process created it between our IF NOT EXISTS check and the catalog insert.
      if (!isAlreadyExists(error)) throw error;
    }
    this.known.add(day);
  }
}

function isAlreadyExists(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === '42P07' || code === '23505';
}

/** True for PostgreSQL's "no partition of relation found for row". */
export function isMissingPartition(error: unknown): boolean {
  return (error as { code?: string }).code === '23514' && /no partition/i.test(String((error as Error).message));
}
