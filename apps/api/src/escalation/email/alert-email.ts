import { findRule, openedNotificationText, type EffectiveRule } from '@lantern/alerting';
import { formatValueSpoken, type AlertResource } from '@lantern/domain';
import { careHeadline } from '../alert-words.js';
import type { PendingDelivery } from '../delivery-channel.js';

/** The words of one alert e-mail. */
export interface AlertEmail {
  readonly subject: string;
  readonly text: string;
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/**
 * "03:12 UTC on 6 December 2026". Lantern keeps no time zone per person yet, so the zone is always
 * named: a bare "03:12" read in another zone would be a wrong time.
 */
export function emailTime(iso: string): string {
  const t = new Date(iso);
  const hm = `${String(t.getUTCHours()).padStart(2, '0')}:${String(t.getUTCMinutes()).padStart(2, '0')}`;
  return `${hm} UTC on ${t.getUTCDate()} ${MONTHS[t.getUTCMonth()]} ${t.getUTCFullYear()}`;
}

/** Header values come from people's names and rule labels: a line break there would start a header of its own. */
const oneLine = (s: string): string => s.replace(/[\r\n\t]+/g, ' ').trim();

/** When the reading was taken; for alerts without one (signal loss), when it opened. */
const measuredAt = (alert: AlertResource): string => alert.measuredAt ?? alert.openedAt;

/**
 * The patient's headline, the same words as the in-app notification ("Your glucose (blood sugar) is
 * very low"): built by libs/alerting from the catalog rule, whose kind and direction a patient's
 * override cannot change, at the alert's own priority (which it can).
 */
function patientHeadline(alert: AlertResource): string {
  const rule = findRule(alert.rule);
  if (!rule) return 'Lantern has an alert about your readings';
  const effective = {
    ...rule,
    enabled: true,
    source: 'default',
    params: { ...rule.params, priority: alert.priority },
  } as EffectiveRule;
  return openedNotificationText(effective, { value: alert.value ?? null }).title;
}

/** "48 milligrams per decilitre", "12 percent": units spelled out (spec/alerting.md §6). */
function spokenValue(alert: AlertResource): string | undefined {
  if (alert.value === undefined) return undefined;
  if (alert.metric) return formatValueSpoken(alert.metric, alert.value);
  if (findRule(alert.rule)?.kind === 'battery') return `${Math.round(alert.value)} percent`;
  return undefined;
}

const FOOTER =
  'This message was sent by Lantern, the remote monitoring service of your care team. Please do not reply to it.';

/**
 * The patient's e-mail: the headline of their notification, the value and time, and "follow your
 * care plan" — plain words, never a diagnosis or a dose (spec/alerting.md §6).
 */
function patientEmail(alert: AlertResource): AlertEmail {
  const headline = patientHeadline(alert);
  const value = spokenValue(alert);
  const at = emailTime(measuredAt(alert));
  const first = value ? `${headline}: ${value}, measured at ${at}.` : `${headline} (since ${at}).`;
  return {
    subject: oneLine(headline),
    text: [
      first,
      'Your care team has been told. Please follow your care plan.',
      'In Lantern you can let your care team know that you are taking care of it.',
      FOOTER,
    ].join('\n\n'),
  };
}

/**
 * The e-mail of a clinician, an admin or a caregiver: whose alert, what (the clinician message of
 * libs/alerting: value, limit, rule), when, how urgent. No link: Lantern has no public URL setting.
 */
function careEmail(delivery: PendingDelivery): AlertEmail {
  const { alert, patientName } = delivery;
  const name = oneLine(patientName);
  const reminder = alert.escalationLevel > 0 ? 'Still not acknowledged: ' : '';
  const what = alert.message;
  const lines = [
    `${name} has a ${alert.priority}-priority alert.`,
    '',
    `What:      ${oneLine(what)}`,
    `Measured:  ${emailTime(measuredAt(alert))}`,
    ...(alert.raisedAt ? [`Raised:    ${emailTime(alert.raisedAt)}`] : []),
    `Priority:  ${alert.priority}`,
    ...(alert.escalationLevel > 0 ? [`Escalated: level ${alert.escalationLevel}, nobody has acknowledged it yet`] : []),
  ];
  const caregiver = delivery.recipient.role === 'caregiver';
  const action = caregiver
    ? `${name} has been sent this alert too, and their care team has been told. If you are taking care of it, confirm it in Lantern: further messages then stop.`
    : 'Acknowledge it in Lantern once someone is taking care of it: further messages then stop.';
  const why = caregiver
    ? `You receive this because ${name} shares their alerts with you in Lantern.`
    : `You receive this because you are on ${name}'s care team in Lantern.`;
  return {
    subject: oneLine(`${reminder}${careHeadline(alert, name)}: ${what}`),
    text: [lines.join('\n'), action, `${why} Please do not reply to this message.`].join('\n\n'),
  };
}

/** The e-mail of one delivery, worded for its recipient: the patient themselves, or someone caring for them. */
export function alertEmail(delivery: PendingDelivery): AlertEmail {
  return delivery.recipient.role === 'patient' ? patientEmail(delivery.alert) : careEmail(delivery);
}
