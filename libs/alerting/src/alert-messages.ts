import {
  DEVICE_TYPES,
  METRICS,
  formatValue,
  formatValueSpoken,
  type AlertPriority,
  type DeviceTypeKey,
  type NotificationKind,
  type NotificationSeverity,
} from '@lantern/domain';
import type { EffectiveRule } from './rule-overrides.js';

/** What a message may mention besides the rule: all optional, in canonical units. */
export interface MessageFacts {
  /** The reading value (battery: percent). */
  value?: number | null;
  /** Rate and predictive: the slope, per minute. */
  slopePerMin?: number;
  /** Trend: the change within the window. */
  change?: number;
  /** Device rules: the device's type. */
  deviceType?: DeviceTypeKey | null;
  /** Signal loss: the silence, in seconds, that fired the rule. */
  silentSec?: number;
}

/** A patient notification's words. */
export interface NotificationText {
  kind: NotificationKind;
  severity: NotificationSeverity;
  title: string;
  body: string;
}

const SEVERITY: Record<AlertPriority, NotificationSeverity> = { high: 'urgent', medium: 'warning', low: 'info' };

/** Devices the patient cannot charge: a low battery means a replacement, which the care team plans. */
const NOT_CHARGEABLE: ReadonlySet<DeviceTypeKey> = new Set(['cardiac_implant']);

const number = (n: number): string => String(Math.round(n * 100) / 100);

/** "20 min", "36 h", "5 d": compact, for clinicians. */
function shortDuration(sec: number): string {
  if (sec < 60) return `${number(sec)} s`;
  if (sec < 3600) return `${number(sec / 60)} min`;
  if (sec <= 72 * 3600) return `${number(sec / 3600)} h`;
  return `${number(sec / 86400)} d`;
}

const plural = (n: number, word: string): string => `${number(n)} ${word}${n === 1 ? '' : 's'}`;

/** "20 minutes", "2 hours", "3 days": spelled out, for patients. */
function spokenDuration(sec: number): string {
  if (sec < 3600) return plural(Math.round(sec / 60), 'minute');
  if (sec < 48 * 3600 || sec % 86400 !== 0) return plural(Math.round(sec / 3600), 'hour');
  return plural(sec / 86400, 'day');
}

function deviceLabel(facts: MessageFacts): string {
  return facts.deviceType ? DEVICE_TYPES[facts.deviceType].label : 'Device';
}

function devicePatientLabel(facts: MessageFacts): string {
  return facts.deviceType ? DEVICE_TYPES[facts.deviceType].patientLabel : 'device';
}

/**
 * The clinician-facing message naming rule, value, unit and threshold:
 * "Glucose 48 mg/dL — below 54 (urgent low)".
 */
export function clinicianMessage(rule: EffectiveRule, facts: MessageFacts): string {
  const value = facts.value ?? null;
  switch (rule.kind) {
    case 'threshold': {
      const { label, unitDisplay } = METRICS[rule.metric];
      const shown = value === null ? label : `${label} ${formatValue(rule.metric, value)}`;
      const delay = rule.params.delaySec > 0 ? ` for ${shortDuration(rule.params.delaySec)}` : '';
      return `${shown} — ${rule.params.direction} ${number(rule.params.threshold)}${unitDisplay === '%' ? '%' : ''}${delay} (${rule.label})`;
    }
    case 'rate': {
      const { label, unitDisplay } = METRICS[rule.metric];
      const slope = Math.abs(facts.slopePerMin ?? NaN);
      const shown = value === null ? label : `${label} ${formatValue(rule.metric, value)}`;
      return `${shown}, ${rule.params.direction} ${Number.isNaN(slope) ? '' : `${number(slope)} `}${unitDisplay}/min — at least ${number(rule.params.ratePerMin)} over ${shortDuration(rule.params.windowSec)} (${rule.label})`;
    }
    case 'predictive': {
      const { label } = METRICS[rule.metric];
      const shown = value === null ? label : `${label} ${formatValue(rule.metric, value)}`;
      return `${shown} — projected ${rule.params.direction} ${number(rule.params.threshold)} within ${shortDuration(rule.params.horizonSec)} (${rule.label})`;
    }
    case 'trend': {
      const { label, unitDisplay } = METRICS[rule.metric];
      const shown = value === null ? label : `${label} ${formatValue(rule.metric, value)}`;
      const change = facts.change === undefined ? '' : ` ${number(facts.change)} ${unitDisplay}`;
      const way = rule.params.direction === 'rising' ? 'up' : 'down';
      return `${shown} — ${way}${change} within ${shortDuration(rule.params.windowSec)}, limit ${number(rule.params.delta)} ${unitDisplay} (${rule.label})`;
    }
    case 'signal_loss':
      return `${deviceLabel(facts)} — no data for ${shortDuration(facts.silentSec ?? rule.params.afterSec ?? 0)} (${rule.label})`;
    case 'battery':
      return `${deviceLabel(facts)} battery ${value === null ? '?' : number(value)}% — at or below ${number(rule.params.threshold)}% (${rule.label})`;
  }
}

const CARE_PLAN = 'Your care team has been told. Please follow your care plan.';

/** The headline of an alert for the patient ("Your glucose (blood sugar) is very low"). */
function patientHeadline(rule: EffectiveRule, facts: MessageFacts): string {
  const strong = rule.params.priority === 'high' ? 'very ' : '';
  switch (rule.kind) {
    case 'threshold':
      return `Your ${METRICS[rule.metric].patientLabel} is ${strong}${rule.params.direction === 'below' ? 'low' : 'high'}`;
    case 'rate':
      return `Your ${METRICS[rule.metric].patientLabel} is ${rule.params.direction} quickly`;
    case 'predictive':
      return `Your ${METRICS[rule.metric].patientLabel} may soon be ${strong}${rule.params.direction === 'below' ? 'low' : 'high'}`;
    case 'trend':
      return `Your ${METRICS[rule.metric].patientLabel} has gone ${rule.params.direction === 'rising' ? 'up' : 'down'}`;
    case 'signal_loss':
      return `We are not receiving data from your ${devicePatientLabel(facts)}`;
    case 'battery':
      return facts.deviceType && NOT_CHARGEABLE.has(facts.deviceType)
        ? `The battery of your ${devicePatientLabel(facts)} is getting low`
        : `Please charge your ${devicePatientLabel(facts)}`;
  }
}

/**
 * The patient notification sent when an alert opens: plain words, units spelled out, the value,
 * what the care team knows, and "follow your care plan" — never a diagnosis or a dose.
 */
export function openedNotificationText(rule: EffectiveRule, facts: MessageFacts): NotificationText {
  const title = patientHeadline(rule, facts);
  const severity = SEVERITY[rule.params.priority];
  const value = facts.value ?? null;
  switch (rule.kind) {
    case 'threshold': {
      const m = rule.metric;
      const reading =
        value === null ? '' : `Your latest ${METRICS[m].patientLabel} reading was ${formatValueSpoken(m, value)}, `;
      const limit = `${rule.params.direction} the limit of ${formatValueSpoken(m, rule.params.threshold)} set for you. `;
      return {
        kind: 'alert_opened',
        severity,
        title,
        body: `${reading ? reading + 'which is ' : 'It is '}${limit}${CARE_PLAN}`,
      };
    }
    case 'rate': {
      const m = rule.metric;
      const slope =
        facts.slopePerMin === undefined || Number.isNaN(facts.slopePerMin)
          ? rule.params.ratePerMin
          : Math.abs(facts.slopePerMin);
      const way = rule.params.direction === 'falling' ? 'going down' : 'going up';
      const latest = value === null ? '' : ` Your latest reading was ${formatValueSpoken(m, value)}.`;
      return {
        kind: 'alert_opened',
        severity,
        title,
        body: `It is ${way} by about ${formatValueSpoken(m, slope)} every minute.${latest} ${CARE_PLAN}`,
      };
    }
    case 'predictive': {
      const m = rule.metric;
      const way = rule.params.direction === 'below' ? 'falling' : 'rising';
      const side = rule.params.direction === 'below' ? 'below' : 'above';
      const latest = value === null ? '' : ` Your latest reading was ${formatValueSpoken(m, value)}.`;
      return {
        kind: 'alert_opened',
        severity,
        title,
        body: `If it keeps ${way} at this pace, it could go ${side} ${formatValueSpoken(m, rule.params.threshold)} within ${spokenDuration(rule.params.horizonSec)}.${latest} ${CARE_PLAN}`,
      };
    }
    case 'trend': {
      const m = rule.metric;
      const way = rule.params.direction === 'rising' ? 'up' : 'down';
      const change = facts.change === undefined ? rule.params.delta : facts.change;
      const to = value === null ? '' : `, to ${formatValueSpoken(m, value)}`;
      return {
        kind: 'alert_opened',
        severity,
        title,
        body: `It went ${way} by ${formatValueSpoken(m, change)} within ${spokenDuration(rule.params.windowSec)}${to}. ${CARE_PLAN}`,
      };
    }
    case 'signal_loss': {
      const device = devicePatientLabel(facts);
      const silent = facts.silentSec ?? rule.params.afterSec ?? 0;
      return {
        kind: 'signal_lost',
        severity,
        title,
        body: `Nothing has arrived from your ${device} for ${spokenDuration(silent)}. Please check that it is switched on, worn or placed as you were shown, and close to your phone or home hub. Your care team has been told. If you feel unwell, follow your care plan.`,
      };
    }
    case 'battery': {
      const device = devicePatientLabel(facts);
      const level = value === null ? 'low' : `at ${number(value)} percent`;
      const body =
        facts.deviceType && NOT_CHARGEABLE.has(facts.deviceType)
          ? `The battery of your ${device} is ${level}. This is expected over time. Your care team has been told and will contact you about the next steps. Please follow your care plan.`
          : `The battery of your ${device} is ${level}. Please charge it, or change its battery, soon so that your readings keep reaching your care team.`;
      return { kind: 'battery_low', severity, title, body };
    }
  }
}

/** The patient notification sent when a clinician acknowledges an alert ("Your care team has seen…"). */
export function acknowledgedNotificationText(rule: EffectiveRule, facts: MessageFacts): NotificationText {
  const headline = patientHeadline(rule, facts);
  const about = headline.charAt(0).toLowerCase() + headline.slice(1);
  return {
    kind: 'alert_acknowledged',
    severity: 'info',
    title: 'Your care team has seen your alert',
    body: `Your care team has seen the alert: ${about}. Please keep following your care plan.`,
  };
}

/** The patient notification sent when a device that was silent is heard from again. */
export function signalRestoredNotificationText(facts: MessageFacts): NotificationText {
  const device = devicePatientLabel(facts);
  return {
    kind: 'signal_restored',
    severity: 'info',
    title: `Your ${device} is sending data again`,
    body: `We are receiving data from your ${device} again, and your care team can see your readings. Thank you.`,
  };
}
