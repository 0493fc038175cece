/**
 * One section of the patient detail page (vitals, alerts, rules, devices): it owns its state, its
 * requests and its live subscriptions, and the page composes the sections and feeds them what it
 * loads once for all of them.
 */
export interface PatientSection {
  /** The section's card, placed once by the page; the section redraws inside it. */
  readonly element: HTMLElement;
  /** Stops its live subscriptions, timers and charts; nothing it started outlives the page. */
  dispose(): void;
}
