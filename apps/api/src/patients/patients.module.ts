import { Module } from '@nestjs/common';
import { PatientService } from './patient.service.js';
import { PatientsController } from './patients.controller.js';

@Module({ controllers: [PatientsController], providers: [PatientService] })
export class PatientsModule {}
