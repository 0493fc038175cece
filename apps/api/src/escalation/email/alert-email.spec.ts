import { describe, expect, it } from '@jest/globals';
import { clinicianMessage, DEFAULT_RULES, effectiveRules } from '@lantern/alerting';
import type { AlertResource } from '@lantern/domain';
import { PermanentDeliveryError, type PendingDelivery } from '../delivery-channel.js';
import { alertEmail, emailTime } from './alert-email.js';
import { smtpFailure } from './smtp-failure.js';

const OPENED = '2026-12-06T03:12:40.000Z';

function alert(overrides: Partial<AlertResource> = {}): AlertResource {
  return {
    id: 'a1',
    patientId: 'p1',
    deviceId: 'd1',
    rule: 'glucose.urgent_low',
    metric: 'glucose',
    priority: 'high',
    state: 'open',
    message: 'Glucose 48 mg/dL — below 54 (urgent low)',
    value: 48,
    peakValue: 48,
    openedAt: OPENED,
    lastTriggeredAt: OPENED,
    escalationLevel: 0,
    late: false,
    measuredAt: OPENED,
    raisedAt: '2026-12-06T03:12:41.250Z',
    ...overrides,
  };
}

function delivery(role: PendingDelivery['recipient']['role'], a: AlertResource = alert()): PendingDelivery {
  return {
    id: 'd-1',
    alertId: a.id,
    patientId: a.patientId,
    patientName: 'Ada Lovelace',
    tier: 0,
    recipient: { id: 'u1', role },
    channel: 'email',
    target: 'someone@example.org',
    attempts: 0,
    alert: a,
    receiptToken: 'token',
  };
}

// As libs/alerting's own check of patient words: clinical shorthand, diagnoses, treatment.
const JARGON =
  /mg\/dL|mmHg|mm\[Hg\]|bpm|SpO2|\bkg\b|°|%|\/min|\bCel\b|hypo|hyper|glyc|tachy|brady|diagnos|insulin|dose|\bunits?\b/i;

describe('alert e-mail for the patient', () => {
  it('says what, the value with its unit spelled out, when, and "follow your care plan"', () => {
    expect(alertEmail(delivery('patient'))).toEqual({
      subject: 'Your glucose (blood sugar) is very low',
      text: [
        'Your glucose (blood sugar) is very low: 48 milligrams per decilitre, measured at 03:12 UTC on 6 December 2026.',
        'Your care team has been told. Please follow your care plan.',
        'In Lantern you can let your care team know that you are taking care of it.',
        'This message was sent by Lantern, the remote monitoring service of your care team. Please do not reply to it.',
      ].join('\n\n'),
    });
  });

  it('takes the priority from the alert (a patient override can change it), not from the catalog', () => {
    const medium = alertEmail(delivery('patient', alert({ priority: 'medium' })));
    expect(medium.subject).toBe('Your glucose (blood sugar) is low');
  });

  it('never uses jargon, a diagnosis or a dose, whatever the rule', () => {
    for (const rule of effectiveRules()) {
      const value = rule.scope === 'device' ? 12 : 61.5;
      const a = alert({
        rule: rule.key,
        metric: rule.scope === 'metric' ? rule.metric : undefined,
        value,
        message: clinicianMessage(rule, { value }),
        priority: rule.params.priority,
      });
      const { subject, text } = alertEmail(delivery('patient', a));
      expect({ rule: rule.key, words: `${subject}\n${text}` }).not.toEqual({
        rule: rule.key,
        words: expect.stringMatching(JARGON),
      });
      expect(text).toContain('follow your care plan');
    }
    expect(DEFAULT_RULES.length).toBeGreaterThan(10);
  });

  it('speaks of a device battery in percent, spelled out', () => {
    const a = alert({
      rule: 'device.battery_low',
      metric: undefined,
      value: 12,
      priority: 'low',
      measuredAt: undefined,
    });
    expect(alertEmail(delivery('patient', a)).text).toMatch(
      /^Please charge your device: 12 percent, measured at 03:12 UTC/,
    );
  });
});

describe('alert e-mail for the care team and caregivers', () => {
  it('names the patient, what, when and the priority, and why the clinician receives it', () => {
    expect(alertEmail(delivery('clinician'))).toEqual({
      subject: 'High alert for Ada Lovelace: Glucose 48 mg/dL — below 54 (urgent low)',
      text: [
        [
          'Ada Lovelace has a high-priority alert.',
          '',
          'What:      Glucose 48 mg/dL — below 54 (urgent low)',
          'Measured:  03:12 UTC on 6 December 2026',
          'Raised:    03:12 UTC on 6 December 2026',
          'Priority:  high',
        ].join('\n'),
        'Acknowledge it in Lantern once someone is taking care of it: further messages then stop.',
        "You receive this because you are on Ada Lovelace's care team in Lantern. Please do not reply to this message.",
      ].join('\n\n'),
    });
  });

  it('tells a caregiver why they receive it, and marks a later tier as not yet acknowledged', () => {
    const mail = alertEmail(delivery('caregiver', alert({ escalationLevel: 1 })));
    expect(mail.subject).toBe(
      'Still not acknowledged: High alert for Ada Lovelace: Glucose 48 mg/dL — below 54 (urgent low)',
    );
    expect(mail.text).toContain('Escalated: level 1, nobody has acknowledged it yet');
    expect(mail.text).toContain('You receive this because Ada Lovelace shares their alerts with you in Lantern.');
    expect(mail.text).not.toMatch(/care team in Lantern/);
  });

  it('keeps a name with a line break from starting a header of its own', () => {
    const mail = alertEmail({ ...delivery('clinician'), patientName: 'Ada\r\nBcc: everyone@example.org' });
    expect(mail.subject).not.toMatch(/[\r\n]/);
  });
});

describe('emailTime', () => {
  it('always names the zone', () => {
    expect(emailTime('2026-01-02T23:05:00.000Z')).toBe('23:05 UTC on 2 January 2026');
  });
});

describe('smtpFailure', () => {
  const smtpError = (fields: Record<string, unknown>, message = 'failed') => Object.assign(new Error(message), fields);

  it('ends a 5xx reply at once, with the reply but without the address', () => {
    const failure = smtpFailure(
      smtpError({
        code: 'EENVELOPE',
        responseCode: 550,
        command: 'RCPT TO',
        response: '550 5.1.1 <nobody@bounce.test>: mailbox unavailable',
      }),
    );
    expect(failure).toBeInstanceOf(PermanentDeliveryError);
    expect(failure.message).toBe('SMTP 550 after RCPT TO: 550 5.1.1 <address>: mailbox unavailable');
  });

  it('retries a 4xx reply, a dropped connection, a timeout, a login or TLS problem', () => {
    const retried = [
      smtpError({ code: 'EENVELOPE', responseCode: 451, command: 'RCPT TO', response: '451 4.7.1 greylisted' }),
      smtpError({ code: 'ESOCKET', command: 'CONN' }, 'connect ECONNREFUSED 127.0.0.1:1'),
      smtpError({ code: 'ETIMEDOUT', command: 'CONN' }, 'Greeting never received'),
      smtpError({ code: 'EAUTH', responseCode: 535, command: 'AUTH PLAIN', response: '535 5.7.8 failed' }),
      smtpError({ code: 'ETLS', command: 'STARTTLS' }, 'No STARTTLS'),
      new Error('something else'),
    ];
    for (const error of retried) {
      const failure = smtpFailure(error);
      expect(failure).not.toBeInstanceOf(PermanentDeliveryError);
      expect(failure).toBeInstanceOf(Error);
    }
  });

  it('ends an envelope nodemailer refuses before asking the server (an address it cannot parse)', () => {
    expect(smtpFailure(smtpError({ code: 'EENVELOPE', command: 'API' }, 'Invalid recipient "x"'))).toBeInstanceOf(
      PermanentDeliveryError,
    );
  });
});
