/** Items (rule overrides, alerts) grouped by patient, each group in their order. */
export function groupByPatient<T extends { readonly patientId: string }>(items: readonly T[]): Map<string, T[]> {
  const byPatient = new Map<string, T[]>();
  for (const o of items) {
    const list = byPatient.get(o.patientId);
    if (list) list.push(o);
    else byPatient.set(o.patientId, [o]);
  }
  return byPatient;
}
