import { UUID_PATTERN } from '@lantern/domain';
/** Reads a `subscribe`/`unsubscribe` message `{ patientId }`; undefined when malformed (answered `bad_request`). */
export function parsePatientMessage(body: unknown): { patientId: string } | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const patientId = (body as { patientId?: unknown }).patientId;
  if (typeof patientId !== 'string' || !UUID_PATTERN.test(patientId)) return undefined;
  return { patientId: patientId.toLowerCase() };
}
