import { Body, Controller, Get, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentActor, Roles, type Actor } from '@lantern/auth';
import { ApiErrors } from '../http/api-errors.decorator.js';
import { PatientSettingsDto, UpdatePatientSettingsDto, toPatientSettingsDto } from './settings.dto.js';
import { SettingsService } from './settings.service.js';

@ApiTags('me')
@ApiBearerAuth()
@ApiErrors(401, 403)
@Roles('patient')
@Controller('me/settings')
export class SettingsController {
  constructor(private readonly settings: SettingsService) {}

  @Get()
  @ApiOperation({ summary: 'Your settings: quiet hours (patient).' })
  @ApiOkResponse({ type: PatientSettingsDto })
  async get(@CurrentActor() actor: Actor): Promise<PatientSettingsDto> {
    return toPatientSettingsDto(await this.settings.get(actor));
  }

  @Put()
  @ApiOperation({
    summary: 'Set or clear your quiet hours (patient).',
    description:
      'Applies to messages created from now on. Times are HH:MM in `timeZone` (an IANA name); a window across midnight (22:00–07:00) is normal; start and end must differ.',
  })
  @ApiOkResponse({ type: PatientSettingsDto })
  @ApiErrors(400)
  async put(@CurrentActor() actor: Actor, @Body() body: UpdatePatientSettingsDto): Promise<PatientSettingsDto> {
    return toPatientSettingsDto(await this.settings.setQuietHours(actor, body.quietHours));
  }
}
