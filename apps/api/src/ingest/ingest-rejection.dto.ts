import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsISO8601, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import type { IngestRejectionRecord } from '@lantern/storage';

export class IngestRejectionQueryDto {
  @ApiPropertyOptional({ description: 'Device id as sent in the topic (also malformed or unknown ids).' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  deviceId?: string;

  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'Received at or after (inclusive).' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'Received before (exclusive).' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class IngestRejectionDto {
  @ApiProperty()
  id!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  receivedAt!: string;

  @ApiPropertyOptional({ description: 'As sent in the topic; absent when the topic named none.' })
  deviceId?: string;

  @ApiProperty({ example: 'lantern/v1/devices/6f1c…/telemetry' })
  topic!: string;

  @ApiProperty({ example: "unit 'mg' not convertible to mg/dL" })
  reason!: string;

  @ApiPropertyOptional({ description: 'Index of the refused reading; absent for a whole-message refusal.' })
  index?: number;

  @ApiPropertyOptional()
  seq?: number;

  @ApiPropertyOptional({ description: 'The raw payload as text, when it is valid UTF-8.' })
  payload?: string;

  @ApiPropertyOptional({ description: 'The raw payload, base64, when it is not valid UTF-8.' })
  payloadBase64?: string;

  @ApiProperty({ description: 'Size of the payload as received, in bytes.' })
  payloadSize!: number;

  @ApiProperty({ description: 'True when only the first 64 KiB were kept.' })
  truncated!: boolean;

  @ApiPropertyOptional({
    type: Boolean,
    description:
      "Present (true) when the raw payload was not kept: the device's dead-letter budget (INGEST_DEAD_LETTER_BUDGET) was spent, or the database refused the dead letter with it. payload and payloadBase64 are then absent.",
  })
  payloadDropped?: true;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A stored dead letter as the API shows it: the payload as text when valid UTF-8, else base64; neither when not kept. */
export function toIngestRejectionDto(record: IngestRejectionRecord): IngestRejectionDto {
  const kept = !record.payloadDropped;
  let text: string | undefined;
  try {
    // A truncated payload may end inside a multi-byte character: then it is shown as base64.
    text = utf8.decode(record.payload);
  } catch {
    text = undefined;
  }
  return {
    id: record.id,
    receivedAt: record.receivedAt.toISOString(),
    ...(record.deviceId === undefined ? {} : { deviceId: record.deviceId }),
    topic: record.topic,
    reason: record.reason,
    ...(record.readingIndex === undefined ? {} : { index: record.readingIndex }),
    ...(record.seq === undefined ? {} : { seq: record.seq }),
    ...(!kept ? {} : text === undefined ? { payloadBase64: record.payload.toString('base64') } : { payload: text }),
    payloadSize: record.payloadSize,
    truncated: record.truncated,
    ...(kept ? {} : { payloadDropped: true as const }),
  };
}
