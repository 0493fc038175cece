import type { AlertResource } from '@lantern/domain';

const PRIORITY_WORD: Record<AlertResource['priority'], string> = { high: 'High', medium: 'Medium', low: 'Low' };

/** The headline of an alert for someone caring for the patient, on every channel: "High alert for Ana Souza". */
export function careHeadline(alert: AlertResource, patientName: string): string {
  return `${PRIORITY_WORD[alert.priority]} alert for ${patientName}`;
}
