import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsObject, IsString, MaxLength, ValidateIf, ValidateNested } from 'class-validator';
import type { PatientSettingsResource, QuietHours } from '@lantern/domain';
import type { PatientSettings } from '@lantern/storage';

export class QuietHoursDto implements QuietHours {
  @ApiProperty({ example: '22:00', description: 'Start, wall-clock time HH:MM (24 h) in `timeZone`.' })
  @IsString()
  @MaxLength(8)
  start!: string;

  @ApiProperty({
    example: '07:00',
    description: 'End, HH:MM; before `start` for a window across midnight (the usual case). Must differ from `start`.',
  })
  @IsString()
  @MaxLength(8)
  end!: string;

  @ApiProperty({ example: 'Europe/Paris', description: 'IANA time zone the times are in (daylight saving followed).' })
  @IsString()
  @MaxLength(64)
  timeZone!: string;
}

const QUIET_HOURS_DESCRIPTION =
  'Quiet hours: low-priority messages (low alerts, device advice) created inside the window are held until it ends; warning and urgent ones, and anything about a medium or high alert, always come at once. null: no quiet hours.';

export class UpdatePatientSettingsDto {
  @ApiProperty({ type: QuietHoursDto, nullable: true, description: QUIET_HOURS_DESCRIPTION })
  @ValidateIf((o: UpdatePatientSettingsDto) => o.quietHours !== null)
  @IsObject()
  @ValidateNested()
  @Type(() => QuietHoursDto)
  quietHours!: QuietHoursDto | null;
}

export class PatientSettingsDto implements PatientSettingsResource {
  @ApiProperty({ type: QuietHoursDto, nullable: true, description: QUIET_HOURS_DESCRIPTION })
  quietHours!: QuietHoursDto | null;

  @ApiProperty({ nullable: true, example: '2026-12-06T14:00:00.000Z', description: 'Null until first saved.' })
  updatedAt!: string | null;
}

/** The response body of a patient's settings. */
export function toPatientSettingsDto(settings: PatientSettings): PatientSettingsDto {
  return {
    quietHours: settings.quietHours && { ...settings.quietHours },
    updatedAt: settings.updatedAt === null ? null : new Date(settings.updatedAt).toISOString(),
  };
}
