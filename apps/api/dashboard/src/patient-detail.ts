import { ApiError, getAlertRules, getAlerts, getDevices, getLatest, getPatient, patientName } from './api.js';
import type { AppContext } from './app-context.js';
import { h, replace } from './dom.js';
import { escalationSection } from './escalation-editor.js';
import { PatientAlertsSection } from './patient-alerts-section.js';
import { PatientDevicesSection } from './patient-devices-section.js';
import { PatientRulesSection } from './patient-rules-section.js';
import { PatientVitalsSection } from './patient-vitals-section.js';
import type { ClinicianStore } from './store.js';

/**
 * Patient detail: live charts with thresholds, history ranges, alert timeline, rules, devices. Each
 * section keeps its own state; this page loads what they all start from, in one round, and catches
 * them up after a reconnect.
 */
export function patientDetailView(
  root: HTMLElement,
  patientId: string,
  store: ClinicianStore,
  ctx: AppContext,
): () => void {
  let disposed = false;
  // The sections look at each other only through these callbacks, called after all exist.
  const devices = new PatientDevicesSection(patientId, ctx, () => {
    vitals.render();
    void vitals.loadHistory();
  });
  const rules: PatientRulesSection = new PatientRulesSection(patientId, ctx, {
    measured: () => vitals.metrics(),
    changed: () => vitals.updateThresholds(),
  });
  const vitals: PatientVitalsSection = new PatientVitalsSection(patientId, ctx, {
    devices: () => devices.list,
    thresholds: (metric) => rules.thresholdsFor(metric),
    historyLoaded: (range) => (root.dataset.historyLoaded = range),
  });
  const alerts = new PatientAlertsSection(patientId, store, ctx);
  const sections = [vitals, alerts, rules, devices];

  const title = h('h1', {}, 'Patient');
  const meta = h('p', { class: 'muted' });
  replace(
    root,
    h('p', {}, h('a', { href: '/', 'data-link': true }, '← Triage board')),
    title,
    meta,
    ...(ctx.session.user.role === 'admin' ? [fhirRecordLink(ctx, patientId)] : []),
    vitals.element,
    alerts.element,
    rules.element,
    escalationSection(patientId, ctx),
    devices.element,
  );

  /** After a reconnect: what happened while the socket was down (alerts, devices, the charts' gap). */
  async function catchUp(): Promise<void> {
    try {
      const [alertList, latestList, deviceList] = await Promise.all([
        getAlerts({ patientId, limit: '200' }, 1),
        getLatest(patientId),
        getDevices(patientId),
      ]);
      if (disposed) return;
      alerts.mergeAll(alertList);
      vitals.mergeLatest(latestList);
      devices.show(deviceList);
      alerts.render();
      devices.render();
      vitals.render();
      await vitals.loadHistory();
    } catch (error) {
      ctx.toast(`Could not catch up after reconnecting: ${(error as Error).message}`, 'error');
    }
  }
  const offConnect = ctx.live.onConnect(() => {
    if (root.dataset.ready === 'true') void catchUp();
  });

  void (async () => {
    try {
      // Watch this patient even when the store does not (e.g. an admin opening any record).
      void ctx.live.subscribe(patientId);
      // The patient must load; any other part that fails is reported and left empty.
      const part = <T>(what: string, promise: Promise<T>, fallback: T): Promise<T> =>
        promise.catch((error: Error) => {
          ctx.toast(`Could not load ${what}: ${error.message}`, 'error');
          return fallback;
        });
      const [patient, latestList, deviceList, alertList, ruleList] = await Promise.all([
        getPatient(patientId),
        part('latest readings', getLatest(patientId), []),
        part('devices', getDevices(patientId), []),
        part('alerts', getAlerts({ patientId, limit: '200' }, 1), []),
        part('alert rules', getAlertRules(patientId), []),
      ]);
      if (disposed) return;
      title.textContent = patientName(patient);
      document.title = `${patientName(patient)} · Lantern`;
      replace(meta, [
        patient.mrn ? `MRN ${patient.mrn}` : null,
        patient.dateOfBirth ? ` · born ${patient.dateOfBirth}` : null,
      ]);
      devices.show(deviceList);
      rules.show(ruleList);
      alerts.mergeAll(alertList);
      vitals.show(latestList);
      alerts.render();
      rules.render();
      devices.render();
      await vitals.loadHistory();
      root.dataset.ready = 'true';
    } catch (error) {
      if (error instanceof ApiError && error.status === 404)
        replace(
          root,
          h('h1', {}, 'Patient not found'),
          h('p', {}, h('a', { href: '/', 'data-link': true }, 'Back to the board')),
        );
      else ctx.toast(`Could not load the patient: ${(error as Error).message}`, 'error');
    }
  })();

  return () => {
    disposed = true;
    offConnect();
    for (const section of sections) section.dispose();
    if (!store.patients.has(patientId)) ctx.live.unsubscribe(patientId);
  };
}

/**
 * For admins: the patient's FHIR R4 record (what an EHR integration reads). The FHIR server wants
 * the same bearer token as REST, which a plain link in a new tab would not send, so the record is
 * fetched with it and opened as a document; the URL itself is shown to copy into an EHR's setup.
 */
function fhirRecordLink(ctx: AppContext, patientId: string): HTMLElement {
  const url = `/fhir/R4/Patient/${encodeURIComponent(patientId)}`;
  const open = async (event: Event): Promise<void> => {
    event.preventDefault();
    try {
      const res = await fetch(url, {
        headers: { Authorization: `Bearer ${ctx.session.token}`, Accept: 'application/fhir+json' },
      });
      if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
      const text = JSON.stringify(await res.json(), null, 2);
      window.open(URL.createObjectURL(new Blob([text], { type: 'application/json' })), '_blank', 'noopener');
    } catch (error) {
      ctx.toast(`Could not open the FHIR record: ${(error as Error).message}`, 'error');
    }
  };
  return h(
    'p',
    { class: 'muted' },
    'FHIR R4: ',
    h('a', { href: url, onclick: (e: Event) => void open(e) }, 'Patient record'),
    ` (${location.origin}${url}; observations at /fhir/R4/Observation?patient=${patientId})`,
  );
}
