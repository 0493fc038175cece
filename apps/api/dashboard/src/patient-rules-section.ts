import type { AlertRuleResource, MetricKey } from '@lantern/domain';
import { deleteAlertRule, getAlertRules, putAlertRule } from './api.js';
import type { AppContext } from './app-context.js';
import type { ThresholdLine } from './chart.js';
import { h, replace } from './dom.js';
import { ruleLabel } from './format.js';
import type { PatientSection } from './patient-section.js';

const NUMERIC_PARAMS = [
  'threshold',
  'delaySec',
  'hysteresis',
  'ratePerMin',
  'windowSec',
  'minSamples',
  'horizonSec',
  'delta',
  'afterSec',
];

/** What the rules editor needs from the rest of the page. */
export interface RulesSources {
  /** The metrics this patient's devices measure: their rules come first, the rest folded away. */
  measured: () => readonly MetricKey[];
  /** The rules changed (saved or reverted): thresholds drawn elsewhere must follow. */
  changed: () => void;
}

/** "Alert rules": the patient's effective rules, each editable and revertible to the default. */
export class PatientRulesSection implements PatientSection {
  private readonly ruleTable = h('div', { class: 'rules' });
  readonly element = h(
    'section',
    { class: 'card', 'aria-labelledby': 'h-rules' },
    h('h2', { id: 'h-rules' }, 'Alert rules'),
    this.ruleTable,
  );
  private rules: AlertRuleResource[] = [];

  constructor(
    private readonly patientId: string,
    private readonly ctx: AppContext,
    private readonly sources: RulesSources,
  ) {}

  /** Takes the rules the page loaded; call `render` after. */
  show(rules: AlertRuleResource[]): void {
    this.rules = rules;
  }

  /** The enabled threshold rules of a metric, as lines on its chart. */
  thresholdsFor(metric: MetricKey): ThresholdLine[] {
    return this.rules
      .filter((r) => r.kind === 'threshold' && r.enabled && r.metric === metric)
      .map((r) => ({
        value: Number(r.params.threshold),
        label: r.label,
        priority: typeof r.params.priority === 'string' ? r.params.priority : '',
      }))
      .filter((t) => Number.isFinite(t.value));
  }

  /** Rules for what this patient's devices measure (and device rules) first; the rest folded away. */
  render(): void {
    const measured = new Set<string>(this.sources.measured());
    const relevant = this.rules.filter((r) => r.scope === 'device' || !r.metric || measured.has(r.metric));
    const others = this.rules.filter((r) => !relevant.includes(r));
    const table = (list: AlertRuleResource[]): HTMLTableElement =>
      h(
        'table',
        { class: 'rule-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Rule', 'Parameters', 'Priority', 'On', 'Source', ''].map((t) => h('th', { scope: 'col' }, t)),
          ),
        ),
        h(
          'tbody',
          {},
          list.map((rule) => this.ruleRow(rule)),
        ),
      );
    replace(
      this.ruleTable,
      this.rules.length ? table(relevant) : h('p', { class: 'muted' }, 'No rules.'),
      others.length
        ? h(
            'details',
            { class: 'other-rules' },
            h('summary', {}, `${others.length} rules for metrics this patient has no device for`),
            table(others),
          )
        : null,
    );
  }

  dispose(): void {
    // Nothing runs between renders: no subscription, no timer.
  }

  private ruleRow(rule: AlertRuleResource): HTMLTableRowElement {
    const { key, params } = rule;
    const inputs = new Map<string, HTMLInputElement>();
    const fields = NUMERIC_PARAMS.filter((p) => typeof params[p] === 'number').map((p) => {
      const input = h('input', {
        type: 'number',
        step: 'any',
        value: String(params[p]),
        name: p,
        'aria-label': `${ruleLabel(key)} ${p}`,
      });
      inputs.set(p, input);
      return h('label', { class: 'param' }, h('span', {}, p), input);
    });
    const direction =
      typeof params.direction === 'string' ? h('span', { class: 'muted' }, `${params.direction} `) : null;
    const priority = h(
      'select',
      { name: 'priority', 'aria-label': `${ruleLabel(key)} priority` },
      ['high', 'medium', 'low'].map((p) => h('option', { value: p, selected: params.priority === p }, p)),
    );
    const enabled = h('input', { type: 'checkbox', checked: rule.enabled, 'aria-label': `${ruleLabel(key)} enabled` });
    const save = async (): Promise<void> => {
      const body: Record<string, unknown> = { enabled: enabled.checked };
      for (const [p, input] of inputs) if (Number(input.value) !== params[p]) body[p] = Number(input.value);
      if (priority.value !== params.priority) body.priority = priority.value;
      try {
        await putAlertRule(this.patientId, key, body);
        this.ctx.toast(`Saved ${ruleLabel(key)} for this patient.`);
        await this.reload();
      } catch (error) {
        this.ctx.toast(`Could not save ${ruleLabel(key)}: ${(error as Error).message}`, 'error');
      }
    };
    const revert = async (): Promise<void> => {
      try {
        await deleteAlertRule(this.patientId, key);
        this.ctx.toast(`${ruleLabel(key)} is back to the default.`);
        await this.reload();
      } catch (error) {
        this.ctx.toast(`Could not revert ${ruleLabel(key)}: ${(error as Error).message}`, 'error');
      }
    };
    return h(
      'tr',
      { 'data-rule': key, class: rule.source === 'patient' ? 'overridden' : '' },
      h('th', { scope: 'row', 'data-label': 'Rule' }, ruleLabel(key), h('div', { class: 'muted' }, rule.kind)),
      h('td', { 'data-label': 'Parameters' }, direction, fields),
      h('td', { 'data-label': 'Priority' }, priority),
      h('td', { 'data-label': 'On' }, enabled),
      h(
        'td',
        { 'data-label': 'Source' },
        rule.source === 'patient'
          ? h('span', { class: 'badge warn' }, '✎ Patient override')
          : h('span', { class: 'badge' }, 'Default'),
      ),
      h(
        'td',
        { class: 'actions' },
        h('button', { type: 'button', class: 'small', onclick: () => void save() }, 'Save'),
        rule.source === 'patient'
          ? h('button', { type: 'button', class: 'small', onclick: () => void revert() }, 'Revert')
          : null,
      ),
    );
  }

  private async reload(): Promise<void> {
    this.rules = await getAlertRules(this.patientId);
    this.render();
    this.sources.changed();
  }
}
