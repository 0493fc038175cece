/** Injection token of {@link PatientDevices}. */
export const PATIENT_DEVICES = Symbol('PATIENT_DEVICES');

/** The devices whose telemetry belongs on a patient's live view. */
export interface PatientDevices {
  /** Ids of the patient's devices that are not decommissioned. */
  activeDeviceIds(patientId: string): Promise<string[]>;
}
