/** Injection token of {@link PatientDevices}. */
export const PATIENT_DEVICES = Symbol('PATIENT_DEVICES');

/** The devices whose telemetry belongs on a patient's live view. */
export interface PatientDevices {
  /** Ids of each patient's devices that are not decommissioned (a patient without any is absent), in one query. */
  activeDeviceIds(patientIds: readonly string[]): Promise<Map<string, string[]>>;
}
