/** `caregiver`: a family member or home nurse who sees only what patients shared with them (contract §4.2). */
export const ROLES = ['admin', 'clinician', 'patient', 'caregiver'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
