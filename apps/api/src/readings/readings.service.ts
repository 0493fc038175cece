import { Injectable } from '@nestjs/common';
import {
  AuditService,
  grantMetrics,
  grantShowsMetric,
  PatientAccessService,
  type Actor,
  type PatientGrant,
} from '@lantern/auth';
import { BadRequestError, METRICS, NotFoundError, type MetricKey } from '@lantern/domain';
import {
  DeviceRepository,
  InvalidCursorError,
  ReadingHistoryRepository,
  type BucketSize,
  type PatientScope,
} from '@lantern/storage';
import {
  DEFAULT_RAW_LIMIT,
  toBucketDto,
  toLatestReadingDto,
  toReadingDto,
  type LatestReadingDto,
  type ReadingBucketDto,
  type ReadingDto,
  type ReadingPageDto,
  type ReadingSummaryDto,
} from './reading.dto.js';
import {
  assertSpan,
  MAX_BUCKETED_SPAN_MS,
  MAX_RAW_ALL_METRICS_SPAN_MS,
  MAX_RAW_SPAN_MS,
  MAX_SUMMARY_SPAN_MS,
  spanText,
} from './reading-limits.js';
import { summarizeReadings, type CoverageDevice } from './reading-summary.js';
import { withProvenance } from './device-monitoring.js';

const DAY_MS = 86_400_000;
const ALL: PatientScope = { kind: 'all' };

export interface HistoryQuery {
  readonly metric?: MetricKey;
  readonly from?: string;
  readonly to?: string;
  readonly bucket?: BucketSize;
  readonly limit?: number;
  readonly cursor?: string;
}

/** A patient's reading history (contract §3.3): every call checks visibility first and is audited. */
@Injectable()
export class ReadingsService {
  constructor(
    private readonly access: PatientAccessService,
    private readonly audit: AuditService,
    private readonly readings: ReadingHistoryRepository,
    private readonly devices: DeviceRepository,
  ) {}

  /** Raw readings (one page) or, with `bucket`, min/max/avg/count per bucket. */
  async history(actor: Actor, patientId: string, query: HistoryQuery): Promise<ReadingPageDto | ReadingBucketDto[]> {
    const grant = await this.access.assertGrant(actor.principal, patientId);
    // A caregiver asking for a signal not shared reads it as an unknown patient (contract §4.2).
    if (query.metric !== undefined && !grantShowsMetric(grant, query.metric))
      throw new NotFoundError('Patient', patientId);
    const { from, to } = period(query.from, query.to, DAY_MS);
    assertHistorySpan(query, from, to);
    // The audit entry and the query run side by side (two connections, no extra round trip on the
    // answer's path); the answer still waits for the entry to be written, and fails if it is not.
    const audited = this.audit.record(actor, {
      action: 'readings.read',
      patientId,
      resource: 'readings',
      details: {
        metric: query.metric ?? null,
        bucket: query.bucket ?? null,
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
      },
    });
    if (query.bucket !== undefined) {
      if (query.metric === undefined) {
        await audited;
        throw new BadRequestError('metric is required with bucket');
      }
      const buckets = await afterAudit(
        audited,
        this.readings.bucketed(patientId, { metric: query.metric, from, to, bucket: query.bucket }),
      );
      return buckets.map(toBucketDto);
    }
    try {
      const page = await afterAudit(
        audited,
        this.readings.raw(patientId, {
          metric: query.metric,
          from,
          to,
          limit: query.limit ?? DEFAULT_RAW_LIMIT,
          cursor: query.cursor,
          ...sharedOnly(grant),
        }),
      );
      const readings: ReadingDto[] = page.readings.map((r) => toReadingDto(r, METRICS[r.metric].unit));
      return page.nextCursor === undefined ? { readings } : { readings, nextCursor: page.nextCursor };
    } catch (error) {
      if (error instanceof InvalidCursorError) throw new BadRequestError('cursor is not one this API issued');
      throw error;
    }
  }

  /**
   * The newest reading of every metric the patient has, each with its age and its device's
   * monitoring state (contract §4.4; see withProvenance).
   */
  async latest(actor: Actor, patientId: string): Promise<LatestReadingDto[]> {
    const grant = await this.access.assertGrant(actor.principal, patientId);
    await this.audit.record(actor, { action: 'readings.latest', patientId, resource: 'readings' });
    const [latest, devices] = await Promise.all([
      this.readings.latest(patientId, grantMetrics(grant)),
      this.devices.list(ALL, patientId),
    ]);
    const monitored = devices.map((d) => ({
      id: d.id,
      type: d.type,
      decommissioned: d.decommissionedAt !== undefined,
    }));
    return withProvenance(latest, monitored, Date.now()).map((r) => toLatestReadingDto(r, METRICS[r.metric].unit));
  }

  /** Per-metric statistics and coverage, and the standard CGM figures for glucose. Default period: the last 14 days. */
  async summary(actor: Actor, patientId: string, fromText?: string, toText?: string): Promise<ReadingSummaryDto> {
    const grant = await this.access.assertGrant(actor.principal, patientId);
    const { from, to } = period(fromText, toText, 14 * DAY_MS);
    assertSpan(from, to, MAX_SUMMARY_SPAN_MS, 'The summary', 'ask for several shorter periods');
    await this.audit.record(actor, {
      action: 'readings.summary',
      patientId,
      resource: 'readings',
      details: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
    });
    // Nothing is expected of the future: coverage counts up to now.
    const until = Math.max(from, Math.min(to, Date.now()));
    const [stats, devices] = await Promise.all([
      this.readings.statsByMetric(patientId, from, to),
      this.devices.list(ALL, patientId),
    ]);
    const coverageDevices: CoverageDevice[] = devices.map((d) => ({
      type: d.type,
      createdAt: d.createdAt.getTime(),
      ...(d.decommissionedAt ? { decommissionedAt: d.decommissionedAt.getTime() } : {}),
    }));
    return {
      patientId,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      metrics: summarizeReadings(stats, coverageDevices, from, until).filter((m) => grantShowsMetric(grant, m.metric)),
    };
  }
}

/** The raw query's metric restriction for a caregiver's grant; nothing for a full one. */
function sharedOnly(grant: PatientGrant): { metrics?: MetricKey[] } {
  return grant.kind === 'full' ? {} : { metrics: grantMetrics(grant) };
}

/**
 * The result of `work` once `audited` has settled: the audit failure first (a read that could not be
 * recorded is not answered), then the work's own. Never settles before the audit entry is written.
 */
async function afterAudit<T>(audited: Promise<void>, work: Promise<T>): Promise<T> {
  const [audit, result] = await Promise.allSettled([audited, work]);
  if (audit.status === 'rejected') throw audit.reason;
  if (result.status === 'rejected') throw result.reason;
  return result.value;
}

/** Refuses (400, naming the limit) a history request whose period is longer than its kind may cover. */
function assertHistorySpan(query: HistoryQuery, from: number, to: number): void {
  if (query.bucket !== undefined) {
    const wider = (Object.entries(MAX_BUCKETED_SPAN_MS) as [BucketSize, number][])
      .filter(([, max]) => max >= to - from)
      .map(([bucket, max]) => `bucket=${bucket} (up to ${spanText(max)})`);
    assertSpan(
      from,
      to,
      MAX_BUCKETED_SPAN_MS[query.bucket],
      `bucket=${query.bucket}`,
      wider.length > 0 ? `use a wider bucket: ${wider.join(', ')}` : 'ask for several shorter periods',
    );
  } else if (query.metric !== undefined) {
    assertSpan(from, to, MAX_RAW_SPAN_MS, 'Raw readings of one metric', 'page through shorter periods or use bucket');
  } else {
    assertSpan(
      from,
      to,
      MAX_RAW_ALL_METRICS_SPAN_MS,
      'Raw readings of every metric',
      `name a metric (up to ${spanText(MAX_RAW_SPAN_MS)}) or ask for shorter periods`,
    );
  }
}

/** Parses a [from, to) period; `to` defaults to now and `from` to `to` minus `defaultSpanMs`. */
function period(
  fromText: string | undefined,
  toText: string | undefined,
  defaultSpanMs: number,
): { from: number; to: number } {
  const to = toText === undefined ? Date.now() : Date.parse(toText);
  const from = fromText === undefined ? to - defaultSpanMs : Date.parse(fromText);
  if (Number.isNaN(from) || Number.isNaN(to)) throw new BadRequestError('from and to must be ISO-8601 times');
  if (from >= to) throw new BadRequestError('from must be before to');
  return { from, to };
}
