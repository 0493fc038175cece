import { Module } from '@nestjs/common';
import { PatientSettingsRepository } from '@lantern/storage';
import { SettingsController } from './settings.controller.js';
import { SettingsService } from './settings.service.js';

/** The patient's own settings: GET/PUT /me/settings (quiet hours). */
@Module({ controllers: [SettingsController], providers: [SettingsService, PatientSettingsRepository] })
export class SettingsModule {}
