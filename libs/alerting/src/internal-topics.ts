/**
 * Broker topics between the api and ingest roles about alerting (not part of the public contract):
 * the api announces a patient's changed rule overrides and a clinician's acknowledgement or
 * resolution, so the ingest's in-memory state follows within a broker round trip.
 */

/** `{root}/internal/rules-changed`, payload `{ patientId }`. */
export function rulesChangedTopic(root: string): string {
  return `${root}/internal/rules-changed`;
}

/** `{root}/internal/alert-changed`, payload `{ alertId }`. */
export function alertChangedTopic(root: string): string {
  return `${root}/internal/alert-changed`;
}
