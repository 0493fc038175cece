import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool/index.js';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import {
  PermanentDeliveryError,
  type OutboundChannel,
  type PendingDelivery,
  type SendResult,
} from '../delivery-channel.js';
import { alertEmail } from './alert-email.js';
import { smtpFailure } from './smtp-failure.js';

/**
 * Short enough that a dead or silent server holds a dispatcher slot for seconds, not the minutes
 * of nodemailer's defaults; long enough for a slow relay's greeting (some delay it on purpose).
 */
export const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 } as const;

/** Pooled connections to the server: alerts come in bursts (a tier fans out to a care team at once). */
const MAX_CONNECTIONS = 3;

/** The domain of `Name <user@domain>` or `user@domain`. */
function senderDomain(from: string): string {
  const address = /<([^>]+)>/.exec(from)?.[1] ?? from;
  return address.slice(address.lastIndexOf('@') + 1).trim() || 'localhost';
}

/**
 * The e-mail channel of the escalation chain (contract §4.3): one message per delivery, to the
 * address in `delivery.target`, over one pooled SMTP transport. Delivered means the server accepted
 * the message (250 after DATA): that is the only receipt SMTP gives.
 */
@Injectable()
export class EmailChannel implements OutboundChannel, OnModuleDestroy {
  readonly channel = 'email' as const;
  readonly enabled: boolean;
  private readonly logger = new Logger('EmailChannel');
  private readonly transport: Transporter<SMTPPool.SentMessageInfo> | undefined;
  private readonly from: string;
  private readonly messageIdDomain: string;

  constructor(@Inject(LANTERN_CONFIG) config: LanternConfig) {
    this.from = config.emailFrom;
    this.messageIdDomain = senderDomain(config.emailFrom);
    this.enabled = config.smtpUrl !== undefined;
    if (config.smtpUrl === undefined) return;
    const url = new URL(config.smtpUrl);
    const secure = url.protocol === 'smtps:';
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = url.port === '' ? (secure ? 465 : 587) : Number(url.port);
    const requireTls = !secure && config.smtpRequireTls;
    this.transport = nodemailer.createTransport({
      pool: true,
      maxConnections: MAX_CONNECTIONS,
      host,
      port,
      secure,
      requireTLS: requireTls,
      auth:
        url.username === ''
          ? undefined
          : { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) },
      ...SMTP_TIMEOUTS,
      // Messages are built from Lantern's own text only; nothing may make nodemailer read files or URLs.
      disableFileAccess: true,
      disableUrlAccess: true,
      logger: false,
    });
    // Host and port only: the URL may hold the password (docs/security.md: nothing sensitive in logs).
    const tls = secure ? 'TLS' : requireTls ? 'STARTTLS required' : 'STARTTLS if offered';
    this.logger.log(`E-mail deliveries via ${host}:${port} (${tls}), from ${this.from}`);
  }

  async send(delivery: PendingDelivery): Promise<SendResult> {
    if (!this.transport) throw new PermanentDeliveryError('e-mail is not configured (SMTP_URL unset)');
    const to = delivery.target;
    if (!to) throw new PermanentDeliveryError('no e-mail address for this recipient');
    const { subject, text } = alertEmail(delivery);
    let info: SMTPPool.SentMessageInfo;
    try {
      info = await this.transport.sendMail({
        from: this.from,
        to,
        subject,
        text,
        // The same id on every attempt: a receiving system that got an earlier attempt after all
        // (a reply lost after DATA) can recognise the retry as the same message.
        messageId: `<delivery-${delivery.id}@${this.messageIdDomain}>`,
        priority: delivery.alert.priority === 'high' ? 'high' : 'normal',
        headers: {
          'X-Lantern-Delivery': delivery.id,
          // RFC 3834: no out-of-office replies to alerts.
          'Auto-Submitted': 'auto-generated',
        },
      });
    } catch (error) {
      throw smtpFailure(error);
    }
    const accepted = info.accepted.some((address) => address.toLowerCase() === to.toLowerCase());
    if (!accepted) throw new PermanentDeliveryError(`SMTP server did not accept the recipient: ${info.response}`);
    return { delivered: true };
  }

  onModuleDestroy(): void {
    this.transport?.close();
  }
}
