import type { AlertMetrics, Detection, UrgentMisses } from './alert-metrics.js';

const pct = (x: number): string => (Number.isNaN(x) ? '–' : `${Math.round(x * 100)} %`);
const num = (x: number, digits = 2): string => (Number.isNaN(x) ? '–' : x.toFixed(digits));
const minutes = (x: number): string =>
  Number.isNaN(x) ? '–' : x < 0 ? `${Math.abs(x).toFixed(0)} min early` : `${x.toFixed(0)} min late`;

function sensitivity(d: Detection): string {
  if (d.events === 0) return '–';
  const base = pct(d.detected / d.events);
  return d.alreadyActive === 0 ? base : `${base} (${pct((d.detected + d.alreadyActive) / d.events)} with active)`;
}

/** The columns of the table, plus level 1 and highs. */
export const SUMMARY_HEADER = [
  'algorithm',
  'patients',
  'L2 events',
  'L2 sensitivity',
  'L2 unobservable',
  'L2 sensitivity, observable',
  'L2 median warning',
  'L1 events',
  'L1 sensitivity',
  'L1 median warning',
  'false low-class / pt-day',
  'urgent-class / pt-day',
  'urgent not followed by L2',
  'L2-rule alerts not followed by L2',
  'glucose alerts / pt-day',
  '>250 episodes caught',
  '>250 median delay',
];

export function summaryRow(name: string, group: string, m: AlertMetrics): string[] {
  return [
    name,
    `${group} (${m.patientDays} d)`,
    String(m.level2.events),
    sensitivity(m.level2),
    String(m.level2.events - m.level2Observable.events),
    sensitivity(m.level2Observable),
    minutes(m.level2.medianWarningMin),
    String(m.level1.events),
    sensitivity(m.level1),
    minutes(m.level1.medianWarningMin),
    num(m.falseLowPerPatientDay),
    num(m.urgentPerPatientDay),
    pct(m.urgentNotFollowed),
    pct(m.level2RulesNotFollowed),
    num(m.glucoseAlertsPerPatientDay),
    m.high.events === 0 ? '–' : pct((m.high.detected + m.high.alreadyActive) / m.high.events),
    Number.isNaN(m.high.medianWarningMin) ? '–' : `${m.high.medianWarningMin.toFixed(0)} min`,
  ];
}

export const RULE_HEADER = ['algorithm', 'rule', 'priority', 'warns of', 'alerts', 'per pt-day', 'followed by it'];

export function ruleRows(name: string, m: AlertMetrics): string[][] {
  return [...m.rules]
    .sort((a, b) => a.rule.localeCompare(b.rule))
    .map((r) => [name, r.rule, r.priority, r.target, String(r.alerts), num(r.perPatientDay), pct(r.followed)]);
}

/** One cell per rule: alerts per patient-day and the share followed by what the rule warns of. */
export function ruleMatrixRow(m: AlertMetrics, rules: readonly string[]): string[] {
  return rules.map((rule) => {
    const r = m.rules.find((row) => row.rule === rule);
    return r === undefined ? '0' : `${num(r.perPatientDay)} (${pct(r.followed)})`;
  });
}

export const URGENT_MISS_HEADER = [
  'algorithm',
  'urgent-class alerts',
  'not followed by L2',
  'true < 54, under 15 min',
  'true 54–59',
  'true 60–69',
  'true ≥ 70: compression low',
  'true ≥ 70: other sensor error',
  'not followed, were every alarm without hypoglycaemia dropped',
];

/** Urgent-class alerts not followed by a level-2 event, by the lowest true glucose in the hour after. */
export function urgentMissRow(name: string, m: UrgentMisses): string[] {
  const share = (n: number): string => `${n} (${pct(m.urgent === 0 ? NaN : n / m.urgent)})`;
  const noHypo = m.noHypoCompression + m.noHypoOtherSensorError;
  return [
    name,
    String(m.urgent),
    share(m.notFollowed),
    share(m.trueBelow54Briefly),
    share(m.true54To59),
    share(m.true60To69),
    share(m.noHypoCompression),
    share(m.noHypoOtherSensorError),
    pct(m.urgent === noHypo ? NaN : (m.notFollowed - noHypo) / (m.urgent - noHypo)),
  ];
}

/** A Markdown table. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
