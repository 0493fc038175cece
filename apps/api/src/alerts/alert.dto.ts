import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';
import {
  ALERT_PRIORITIES,
  ALERT_STATES,
  type AlertPriority,
  type AlertResource,
  type AlertRuleResource,
  type AlertState,
  type MetricKey,
  type OffsetPageResource,
  type PageResource,
  type PatientNotificationResource,
} from '@lantern/domain';
import type { EffectiveRule } from '@lantern/alerting';
import { MAX_OFFSET } from '../http/paging.js';

export class AlertDto implements AlertResource {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) patientId!: string;
  @ApiPropertyOptional({ format: 'uuid' }) deviceId?: string;
  @ApiProperty({ example: 'glucose.urgent_low' }) rule!: string;
  @ApiPropertyOptional({ example: 'glucose' }) metric?: AlertResource['metric'];
  @ApiProperty({ enum: ALERT_PRIORITIES }) priority!: AlertPriority;
  @ApiProperty({ enum: ALERT_STATES }) state!: AlertState;
  @ApiProperty({ example: 'Glucose 48 mg/dL — below 54 (urgent low)' }) message!: string;
  @ApiPropertyOptional() value?: number;
  @ApiPropertyOptional() peakValue?: number;
  @ApiProperty({ format: 'date-time', description: 'Event time (the readings’ clock) of the input that opened it.' })
  openedAt!: string;
  @ApiProperty({ format: 'date-time', description: 'Event time of the latest input that fired its rule.' })
  lastTriggeredAt!: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'Event time of the input on which its condition cleared.' })
  clearedAt?: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'Wall-clock time a clinician acknowledged it.' })
  acknowledgedAt?: string;
  @ApiPropertyOptional({ format: 'uuid' }) acknowledgedBy?: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'Wall-clock time it resolved.' })
  resolvedAt?: string;
  @ApiPropertyOptional({ format: 'uuid' }) resolvedBy?: string;
  @ApiProperty() escalationLevel!: number;
  @ApiProperty({
    description: 'The triggering reading was more than 15 minutes old when evaluated (store-and-forward).',
  })
  late!: boolean;
  @ApiPropertyOptional({
    format: 'date-time',
    description:
      'Event time: the triggering reading’s ts (or status time), as the device measured it. Absent for signal loss and for alerts stored before provenance was recorded.',
  })
  measuredAt?: string;
  @ApiPropertyOptional({
    format: 'date-time',
    description: 'Wall clock: the ingest received the triggering reading from the broker (absent when unknown).',
  })
  receivedAt?: string;
  @ApiPropertyOptional({
    format: 'date-time',
    description: 'Wall clock: the streaming core evaluated the triggering input.',
  })
  evaluatedAt?: string;
  @ApiPropertyOptional({
    format: 'date-time',
    description: 'Wall clock: the streaming core raised the alert; escalation counts from here.',
  })
  raisedAt?: string;
}

export class AlertPageDto implements OffsetPageResource<AlertResource> {
  @ApiProperty({ type: [AlertDto] }) items!: AlertDto[];
  @ApiProperty() total!: number;
  @ApiProperty() limit!: number;
  @ApiProperty() offset!: number;
}

export class AlertListQueryDto {
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() patientId?: string;
  @ApiPropertyOptional({ enum: ALERT_STATES }) @IsOptional() @IsIn(ALERT_STATES) state?: AlertState;
  @ApiPropertyOptional({ enum: ALERT_PRIORITIES }) @IsOptional() @IsIn(ALERT_PRIORITIES) priority?: AlertPriority;
  @ApiPropertyOptional({ format: 'date-time', description: 'openedAt ≥ from' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'openedAt < to' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
  @ApiPropertyOptional({ default: 100, maximum: 1000 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
  @ApiPropertyOptional({ default: 0, maximum: MAX_OFFSET })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_OFFSET)
  offset?: number;
}

export class AlertActionDto {
  @ApiPropertyOptional({ maxLength: 2000 }) @IsOptional() @IsString() @MaxLength(2000) note?: string;
}

export class AlertRuleDto implements AlertRuleResource {
  @ApiProperty({ example: 'glucose.low' }) key!: string;
  @ApiProperty({ enum: ['threshold', 'rate', 'predictive', 'trend', 'signal_loss', 'battery'] }) kind!: string;
  @ApiPropertyOptional({ example: 'glucose' }) metric?: MetricKey;
  @ApiProperty({ enum: ['metric', 'device'] }) scope!: 'metric' | 'device';
  @ApiProperty() label!: string;
  @ApiProperty() enabled!: boolean;
  @ApiProperty({ enum: ['default', 'patient'] }) source!: 'default' | 'patient';
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { direction: 'below', threshold: 70, delaySec: 0, hysteresis: 5, priority: 'medium' },
  })
  params!: Record<string, unknown>;
}

export function toAlertRuleDto(rule: EffectiveRule): AlertRuleDto {
  return {
    key: rule.key,
    kind: rule.kind,
    ...(rule.scope === 'metric' ? { metric: rule.metric } : {}),
    scope: rule.scope,
    label: rule.label,
    enabled: rule.enabled,
    source: rule.source,
    params: { ...rule.params },
  };
}

export class NotificationDto implements PatientNotificationResource {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid' }) patientId!: string;
  @ApiProperty({ enum: ['alert_opened', 'alert_acknowledged', 'signal_lost', 'signal_restored', 'battery_low'] })
  kind!: PatientNotificationResource['kind'];
  @ApiProperty({ enum: ['info', 'warning', 'urgent'] }) severity!: PatientNotificationResource['severity'];
  @ApiProperty() title!: string;
  @ApiProperty() body!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiPropertyOptional({ format: 'uuid' }) alertId?: string;
  @ApiPropertyOptional({ format: 'date-time' }) readAt?: string;
  @ApiPropertyOptional({
    format: 'date-time',
    description: 'When the thread’s latest message came (`createdAt` is when the thread started).',
  })
  updatedAt?: string;
  @ApiPropertyOptional({
    description: 'How many messages followed the thread’s first one (spec §5: one episode, one thread).',
  })
  updates?: number;
  @ApiPropertyOptional({ description: 'Live events only: this message updates the thread `id`.' })
  update?: boolean;
  @ApiPropertyOptional({
    description: 'Every message of the thread, oldest first: `{ id, kind, severity, title, createdAt }`.',
  })
  history?: PatientNotificationResource['history'];
}

export class NotificationPageDto implements PageResource<PatientNotificationResource> {
  @ApiProperty({ type: [NotificationDto] }) items!: NotificationDto[];
  @ApiProperty() total!: number;
}

export class NotificationListQueryDto {
  @ApiPropertyOptional({ default: 50, maximum: 500 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
  @ApiPropertyOptional({ default: 0, maximum: MAX_OFFSET })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_OFFSET)
  offset?: number;
  @ApiPropertyOptional({ description: 'Only unread ones' }) @IsOptional() @IsIn(['true', 'false']) unread?:
    'true' | 'false';
}
