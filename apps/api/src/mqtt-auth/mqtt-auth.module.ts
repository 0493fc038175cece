import { Module } from '@nestjs/common';
import { MqttAuthController } from './mqtt-auth.controller.js';

@Module({ controllers: [MqttAuthController] })
export class MqttAuthModule {}
