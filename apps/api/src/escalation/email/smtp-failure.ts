import { PermanentDeliveryError } from '../delivery-channel.js';

/** What nodemailer's errors carry besides the message (nodemailer's SMTPError). */
interface SmtpErrorFields {
  readonly code?: string;
  readonly responseCode?: number;
  readonly response?: string;
  readonly command?: string;
}

/**
 * Failures of the SMTP session itself, not of the recipient: a wrong login or a server that
 * cannot do the TLS Lantern asks for. Retried (then failed) like an outage, never ended at once —
 * the operator's fix should rescue the deliveries still in their backoff.
 */
const SESSION_CODES = new Set(['EAUTH', 'ENOAUTH', 'ETLS', 'ECONFIG']);

/**
 * The server's reply made fit for `alert_deliveries.error` and the logs: addresses blanked (the
 * recipient is on the row already, and logs carry no personal data), one line, bounded.
 */
function redact(text: string): string {
  return text
    .replace(/<?[^\s<>@]+@[^\s<>@]+>?/g, '<address>')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300);
}

/**
 * The dispatcher's view of a failed send: a PermanentDeliveryError when retrying cannot help (a 5xx
 * reply, or an address nodemailer refuses before asking anyone), a plain Error otherwise (a 4xx
 * reply, a refused or dropped connection, a timeout, a login or TLS problem).
 */
export function smtpFailure(error: unknown): Error {
  const fields: SmtpErrorFields = typeof error === 'object' && error !== null ? error : {};
  const raw = error instanceof Error ? error.message : String(error);
  const reply = fields.response ? redact(fields.response) : undefined;
  const where = fields.command && fields.command !== 'API' ? ` after ${fields.command}` : '';
  if (fields.code !== undefined && SESSION_CODES.has(fields.code))
    return new Error(`SMTP ${fields.code}${where}: ${reply ?? redact(raw)}`);
  if (fields.responseCode !== undefined && fields.responseCode >= 500)
    return new PermanentDeliveryError(`SMTP ${fields.responseCode}${where}: ${reply ?? redact(raw)}`);
  if (fields.responseCode !== undefined && fields.responseCode >= 400)
    return new Error(`SMTP ${fields.responseCode}${where} (temporary): ${reply ?? redact(raw)}`);
  // Nodemailer refused the envelope without a server reply: an address it cannot parse never will be.
  if (fields.code === 'EENVELOPE') return new PermanentDeliveryError(`SMTP envelope refused: ${redact(raw)}`);
  return new Error(`SMTP ${fields.code ?? 'error'}: ${redact(raw)}`);
}
