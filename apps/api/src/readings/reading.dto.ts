import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import {
  METRIC_KEYS,
  type GlucoseFiguresResource,
  type LatestReadingResource,
  type MetricKey,
  type MetricSummaryResource,
  type Reading,
  type ReadingBucketResource,
  type ReadingResource,
  type ReadingSummaryResource,
} from '@lantern/domain';
import { BUCKET_MS, MAX_RAW_LIMIT, type BucketSize, type ReadingBucket } from '@lantern/storage';
import type { LatestWithProvenance, Monitoring } from './device-monitoring.js';
import type { GlucoseFigures, MetricSummary } from './reading-summary.js';

const BUCKETS = Object.keys(BUCKET_MS) as BucketSize[];
export const DEFAULT_RAW_LIMIT = 1000;

export class PeriodQueryDto {
  @ApiPropertyOptional({
    description: 'Start, inclusive (ISO-8601). Default: `to` minus 24 hours (14 days for the summary).',
    example: '2026-11-21T00:00:00Z',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ description: 'End, exclusive (ISO-8601). Default: now.', example: '2026-11-22T00:00:00Z' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

export class ReadingsQueryDto extends PeriodQueryDto {
  @ApiPropertyOptional({ enum: METRIC_KEYS, description: 'Only this metric (required with `bucket`).' })
  @IsOptional()
  @IsIn(METRIC_KEYS)
  metric?: MetricKey;

  @ApiPropertyOptional({
    enum: BUCKETS,
    description: 'Aggregate into buckets of this width (UTC-aligned) instead of raw readings.',
  })
  @IsOptional()
  @IsIn(BUCKETS)
  bucket?: BucketSize;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: MAX_RAW_LIMIT,
    default: DEFAULT_RAW_LIMIT,
    description: 'Raw readings per page.',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_RAW_LIMIT)
  limit?: number;

  @ApiPropertyOptional({ description: '`nextCursor` of the previous page.' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}

export class ReadingDto implements ReadingResource {
  @ApiProperty({ format: 'date-time' }) ts!: string;
  @ApiProperty({ enum: METRIC_KEYS }) metric!: MetricKey;
  @ApiProperty({ description: "In the metric's canonical unit." }) value!: number;
  @ApiProperty({ example: 'mg/dL' }) unit!: string;
  @ApiProperty({ format: 'uuid' }) deviceId!: string;
  @ApiPropertyOptional({
    format: 'date-time',
    description: 'Wall clock: when the ingest received it from the broker (`ts` is when the device measured it).',
  })
  receivedAt?: string;
}

export class ReadingPageDto {
  @ApiProperty({ type: [ReadingDto] }) readings!: ReadingDto[];
  @ApiPropertyOptional({ description: 'Present when more readings follow: pass it back as `cursor`.' })
  nextCursor?: string;
}

export class ReadingBucketDto implements ReadingBucketResource {
  @ApiProperty({ format: 'date-time', description: 'Start of the bucket.' }) ts!: string;
  @ApiProperty() min!: number;
  @ApiProperty() max!: number;
  @ApiProperty() avg!: number;
  @ApiProperty() count!: number;
}

export class LatestReadingDto extends ReadingDto implements LatestReadingResource {
  @ApiProperty({ description: "Seconds since it was measured (`ts`), on the server's clock." }) ageSec!: number;
  @ApiProperty({
    enum: ['ok', 'lost'],
    description:
      "Its device's state: `lost` when the device has sent nothing for longer than its type's signal-loss time, or no longer monitors this patient.",
  })
  monitoring!: Monitoring;
  @ApiPropertyOptional({
    format: 'date-time',
    description:
      'When `monitoring` is `lost`: the measured time of the device’s newest reading, since which nothing came.',
  })
  since?: string;
  @ApiProperty({ description: 'True when `monitoring` is `lost`: the value is the last known one, not a current one.' })
  stale!: boolean;
}

export class GlucoseFiguresDto implements GlucoseFigures, GlucoseFiguresResource {
  @ApiProperty({ description: 'Percent of readings in 70–180 mg/dL.' }) timeInRange!: number;
  @ApiProperty({ description: 'Percent of readings below 70 mg/dL.' }) timeBelow70!: number;
  @ApiProperty({ description: 'Percent of readings below 54 mg/dL.' }) timeBelow54!: number;
  @ApiProperty({ description: 'Percent of readings above 180 mg/dL.' }) timeAbove180!: number;
  @ApiProperty({ description: 'Percent of readings above 250 mg/dL.' }) timeAbove250!: number;
  @ApiProperty({ description: 'Mean glucose, mg/dL.' }) meanGlucose!: number;
  @ApiProperty({ description: 'Glucose management indicator, %: 3.31 + 0.02392 × mean mg/dL.' }) gmi!: number;
  @ApiProperty({ type: Number, nullable: true, description: 'Coefficient of variation, %: sample SD / mean × 100.' })
  cv!: number | null;
}

export class MetricSummaryDto implements MetricSummary, MetricSummaryResource {
  @ApiProperty({ enum: METRIC_KEYS }) metric!: MetricKey;
  @ApiProperty() unit!: string;
  @ApiProperty() count!: number;
  @ApiProperty({ type: Number, nullable: true }) mean!: number | null;
  @ApiProperty({ type: Number, nullable: true }) min!: number | null;
  @ApiProperty({ type: Number, nullable: true }) max!: number | null;
  @ApiProperty({
    type: Number,
    nullable: true,
    description: "Readings the patient's devices should have sent in the period.",
  })
  expectedCount!: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'Share of expected readings received, 0–1.' }) coverage!:
    number | null;
  @ApiPropertyOptional({ type: GlucoseFiguresDto, description: 'Glucose only: the standard CGM figures.' })
  glucose?: GlucoseFiguresDto;
}

export class ReadingSummaryDto implements ReadingSummaryResource {
  @ApiProperty({ format: 'uuid' }) patientId!: string;
  @ApiProperty({ format: 'date-time' }) from!: string;
  @ApiProperty({ format: 'date-time' }) to!: string;
  @ApiProperty({ type: [MetricSummaryDto] }) metrics!: MetricSummaryDto[];
}

/** Response mappers: the API's shapes, never the repository's. */
export function toReadingDto(
  r: Pick<Reading, 'metric' | 'value' | 'time' | 'deviceId'> & { readonly receivedAt?: number },
  unit: string,
): ReadingDto {
  const dto: ReadingDto = {
    ts: new Date(r.time).toISOString(),
    metric: r.metric,
    value: r.value,
    unit,
    deviceId: r.deviceId,
  };
  if (r.receivedAt !== undefined) dto.receivedAt = new Date(r.receivedAt).toISOString();
  return dto;
}

export function toLatestReadingDto(r: LatestWithProvenance, unit: string): LatestReadingDto {
  return {
    ...toReadingDto(r, unit),
    ageSec: r.ageSec,
    monitoring: r.monitoring,
    ...(r.since === null ? {} : { since: new Date(r.since).toISOString() }),
    stale: r.stale,
  };
}

export function toBucketDto(b: ReadingBucket): ReadingBucketDto {
  return { ts: new Date(b.ts).toISOString(), min: b.min, max: b.max, avg: b.avg, count: b.count };
}
