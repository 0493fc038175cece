import { METRICS, isMetricKey } from '@lantern/domain';

/** What an access-log sentence is made of: who, the audited action, and its details. */
export interface AccessLogFacts {
  readonly actorName: string;
  readonly action: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** What was seen or done, after the actor's name, per audited action; for the patient, in plain words. */
const PHRASES: Record<string, (details: Readonly<Record<string, unknown>>) => string> = {
  'patient.read': () => 'opened your record',
  'patient.list': () => 'saw your name in their list',
  'patient.create': () => 'created your record',
  'readings.read': (d) => `viewed your ${metricWords(d.metric) ?? 'readings'} history`,
  'readings.latest': () => 'viewed your latest readings',
  'readings.summary': () => 'viewed a summary of your readings',
  'live.subscribe': () => 'started watching your readings as they arrive',
  'alert.list': () => 'viewed your alerts',
  'alert.read': () => 'viewed one of your alerts',
  'alert.acknowledge': () => 'acknowledged one of your alerts',
  'alert.resolve': () => 'marked one of your alerts as resolved',
  'alert.confirm': () => 'told your care team they are taking care of one of your alerts',
  'escalation.update': () => 'changed who is told, and when, about your alerts',
  'escalation.revert': () => 'set who is told about your alerts back to the standard order',
  'alert_rule.list': () => 'viewed your alert settings',
  'alert_rule.update': () => 'changed one of your alert settings',
  'alert_rule.revert': () => 'set one of your alert settings back to the standard one',
  'device.list': () => 'viewed your devices',
  'device.read': () => 'viewed one of your devices',
  'device.create': () => 'set up a new device for you',
  'device.decommission': () => 'retired one of your devices',
  'device.rotate_secret': () => "renewed one of your devices' password",
  'care_team.add': () => 'added a clinician to your care team',
  'care_team.remove': () => 'took a clinician off your care team',
  'fhir.export': () => 'exported your data to another health system',
  'caregiver.accept': () => 'accepted your invitation to see your data',
  'user.create': () => 'created your account',
  'user.password_reset': () => 'reset your password',
  'user.disable': () => 'turned off your account',
  'user.enable': () => 'turned your account back on',
  'user.role_change': () => 'changed your account',
};

/** The plain name of a metric for the patient ("glucose (blood sugar)"), or undefined. */
function metricWords(metric: unknown): string | undefined {
  return isMetricKey(metric) ? METRICS[metric].patientLabel : undefined;
}

/**
 * One access-log entry as the patient reads it: "Dr Reyes viewed your glucose (blood sugar)
 * history". The time is not in the sentence: the client writes it in the reader's own time zone
 * ("yesterday 14:02"). An action without its own words still says who touched the data.
 */
export function accessLogSentence({ actorName, action, details = {} }: AccessLogFacts): string {
  const phrase = PHRASES[action];
  const what = phrase === undefined ? 'looked at your data' : phrase(details);
  const via = details.via === 'fhir' ? ' through a connected health system' : '';
  return `${actorName} ${what}${via}`;
}
