import { Module } from '@nestjs/common';
import { EmailChannel } from './email.channel.js';

/** The e-mail channel of the escalation chain; disabled (and idle) while SMTP_URL is unset. */
@Module({
  providers: [EmailChannel],
  exports: [EmailChannel],
})
export class EmailModule {}
