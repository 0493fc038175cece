const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Reads a `subscribe`/`unsubscribe` message `{ patientId }`; undefined when malformed (answered `bad_request`). */
export function parsePatientMessage(body: unknown): { patientId: string } | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const patientId = (body as { patientId?: unknown }).patientId;
  if (typeof patientId !== 'string' || !UUID.test(patientId)) return undefined;
  return { patientId: patientId.toLowerCase() };
}
