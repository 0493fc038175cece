import {
  ALERT_PRIORITIES,
  DEFAULT_ESCALATION,
  ESCALATION_TARGETS,
  type AlertPriority,
  type EscalationPolicy,
  type EscalationTarget,
  type EscalationTier,
  type PersonChannel,
} from '@lantern/domain';
import { ApiError, deleteEscalation, getEscalation, putEscalation } from './api.js';
import type { AppContext } from './app-context.js';
import { h, replace } from './dom.js';

const TARGET_LABEL: Record<EscalationTarget, string> = {
  patient: 'The patient',
  caregivers: 'Caregivers (who see alerts)',
  care_team: 'The care team',
  webhook: 'Webhook (on-call system)',
};

const CHANNEL_WORDS: Record<PersonChannel, string> = {
  socket: 'on the open page',
  push: 'by push notification',
  email: 'by email',
};

const PRIORITY_LABEL: Record<AlertPriority, string> = {
  high: 'High priority alerts',
  medium: 'Medium priority alerts',
  low: 'Low priority alerts',
};

/** A tier as edited: `afterSec` as typed, so the server's validation speaks about what was entered. */
interface DraftTier {
  notify: EscalationTarget;
  afterSec: string;
  channels?: EscalationTier['channels'];
}
type Draft = Record<AlertPriority, DraftTier[]>;

function draftOf(policy: EscalationPolicy): Draft {
  const draft = {} as Draft;
  for (const p of ALERT_PRIORITIES)
    draft[p] = (policy[p] ?? []).map((t) => ({
      notify: t.notify,
      afterSec: String(t.afterSec),
      ...(t.channels ? { channels: t.channels } : {}),
    }));
  return draft;
}

/** The body of the PUT; a blank or non-numeric delay goes as null for the server to name. */
export function policyOf(draft: Draft): EscalationPolicy {
  const policy = {} as Record<AlertPriority, EscalationTier[]>;
  for (const p of ALERT_PRIORITIES)
    policy[p] = draft[p].map((t) => {
      const n = t.afterSec.trim() === '' ? NaN : Number(t.afterSec);
      return {
        notify: t.notify,
        afterSec: (Number.isFinite(n) ? n : null) as number,
        ...(t.channels ? { channels: t.channels } : {}),
      };
    });
  return policy;
}

/** Whether a policy is the defaults of spec/alerting.md §5 (tier for tier). */
export function isDefaultPolicy(policy: EscalationPolicy): boolean {
  const norm = (p: EscalationPolicy): string =>
    JSON.stringify(
      ALERT_PRIORITIES.map((k) =>
        (p[k] ?? []).map((t) => [t.notify, t.afterSec, t.channels ? [...t.channels].sort() : null]),
      ),
    );
  return norm(policy) === norm(DEFAULT_ESCALATION);
}

/** "5 min after the alert", for the hint beside a delay. */
function delayWords(afterSec: string): string {
  const n = Number(afterSec);
  if (afterSec.trim() === '' || !Number.isFinite(n)) return '';
  if (n === 0) return 'at once';
  if (n % 60 === 0) return `${n / 60} min after the alert`;
  return n > 60 ? `${Math.floor(n / 60)} min ${n % 60} s after the alert` : `${n} s after the alert`;
}

/**
 * The patient's escalation chain for a clinician (contract §4.3): per priority, who is told and how
 * long after the alert; steps can be changed, added and removed, saved for this patient (PUT) or
 * reset to Lantern's defaults (DELETE). The server validates; its problems are listed and the
 * fields they name are marked.
 */
export function escalationSection(patientId: string, ctx: Pick<AppContext, 'toast'>): HTMLElement {
  let draft: Draft = draftOf(DEFAULT_ESCALATION);
  const source = h('p', { class: 'muted', 'data-escalation-source': '' }, 'Loading…');
  const errors = h('div', { class: 'error', role: 'alert', 'data-escalation-errors': '' });
  const groups = h('div', { class: 'escalation-groups' });
  const form = h(
    'form',
    { class: 'escalation-form', novalidate: true, 'aria-label': 'Escalation steps' },
    groups,
    errors,
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Save escalation'),
      h('button', { type: 'button', onclick: () => void reset() }, 'Reset to defaults'),
    ),
  );
  const section = h(
    'section',
    { class: 'card', 'aria-labelledby': 'h-escalation', 'data-section': 'escalation' },
    h('h2', { id: 'h-escalation' }, 'Escalation'),
    h(
      'p',
      { class: 'muted' },
      'Who is told about an alert, and when, until someone confirms it. A step waits its time after the alert was raised.',
    ),
    source,
    form,
  );

  function show(policy: EscalationPolicy): void {
    draft = draftOf(policy);
    source.dataset.escalationSource = isDefaultPolicy(policy) ? 'default' : 'patient';
    source.textContent = isDefaultPolicy(policy) ? "Lantern's defaults." : 'Set for this patient.';
    renderGroups();
  }

  function renderGroups(invalid = new Map<string, string>()): void {
    replace(
      groups,
      ALERT_PRIORITIES.map((priority) => {
        const tiers = draft[priority];
        return h(
          'fieldset',
          { class: 'escalation-priority', 'data-priority': priority },
          h('legend', {}, PRIORITY_LABEL[priority]),
          tiers.length === 0 ? h('p', { class: 'muted' }, 'Nobody is told.') : null,
          h(
            'ol',
            { class: 'escalation-tiers' },
            tiers.map((tier, i) => tierRow(priority, tier, i, invalid)),
          ),
          h(
            'button',
            {
              type: 'button',
              class: 'small',
              onclick: () => {
                const last = tiers[tiers.length - 1];
                tiers.push({ notify: 'care_team', afterSec: last ? last.afterSec : '0' });
                renderGroups();
                groups.querySelector<HTMLSelectElement>(`[data-priority="${priority}"] li:last-child select`)?.focus();
              },
            },
            `Add a step (${priority})`,
          ),
        );
      }),
    );
  }

  function tierRow(priority: AlertPriority, tier: DraftTier, i: number, invalid: Map<string, string>): HTMLElement {
    const id = `esc-${priority}-${i}`;
    const field = (name: string): { 'aria-invalid'?: string; 'aria-describedby'?: string } =>
      invalid.has(`${priority}[${i}].${name}`)
        ? { 'aria-invalid': 'true', 'aria-describedby': `${id}-${name}-error` }
        : {};
    const notify = h(
      'select',
      {
        id: `${id}-notify`,
        name: `${priority}[${i}].notify`,
        ...field('notify'),
        onchange: () => (tier.notify = notify.value as EscalationTarget),
      },
      ESCALATION_TARGETS.map((t) => h('option', { value: t, selected: t === tier.notify }, TARGET_LABEL[t])),
    );
    const hint = h('span', { class: 'muted' }, delayWords(tier.afterSec));
    const after = h('input', {
      id: `${id}-after`,
      name: `${priority}[${i}].afterSec`,
      type: 'number',
      min: 0,
      step: 1,
      inputmode: 'numeric',
      value: tier.afterSec,
      ...field('afterSec'),
      oninput: () => {
        tier.afterSec = after.value;
        hint.textContent = delayWords(after.value);
      },
    });
    const problems = ['notify', 'afterSec', 'channels']
      .filter((name) => invalid.has(`${priority}[${i}].${name}`))
      .map((name) => h('p', { class: 'error', id: `${id}-${name}-error` }, invalid.get(`${priority}[${i}].${name}`)));
    return h(
      'li',
      { class: 'escalation-tier', 'data-tier': String(i) },
      h('span', { class: 'step' }, `Step ${i + 1}`),
      h('label', { for: `${id}-notify` }, 'Notify '),
      notify,
      h('label', { for: `${id}-after` }, ' after (seconds) '),
      after,
      ' ',
      hint,
      tier.channels
        ? h('span', { class: 'muted' }, ` · only ${tier.channels.map((c) => CHANNEL_WORDS[c]).join(', ')}`)
        : null,
      ' ',
      h(
        'button',
        {
          type: 'button',
          class: 'small',
          'aria-label': `Remove step ${i + 1} of ${priority} priority`,
          onclick: () => {
            draft[priority].splice(i, 1);
            renderGroups();
          },
        },
        'Remove',
      ),
      problems,
    );
  }

  /** Lists the server's problems and marks the fields they name ("high[1].afterSec must …"). */
  function showProblems(error: unknown): void {
    // A list when the server gives one; else its message, whose problems are joined by "; ".
    const details =
      error instanceof ApiError && error.details.length
        ? error.details
        : error instanceof ApiError && error.status === 400
          ? error.message.split('; ')
          : [(error as Error).message];
    const invalid = new Map<string, string>();
    for (const d of details) {
      const named = /^((?:high|medium|low)\[\d+\]\.(?:notify|afterSec|channels))\b/.exec(d);
      if (named) invalid.set(named[1], d);
    }
    replace(
      errors,
      h('p', {}, 'Not saved:'),
      h(
        'ul',
        {},
        details.map((d) => h('li', {}, d)),
      ),
    );
    renderGroups(invalid);
  }

  async function load(): Promise<void> {
    try {
      show(await getEscalation(patientId));
    } catch (error) {
      source.textContent = 'The escalation steps could not be loaded.';
      ctx.toast(`Could not load the escalation steps: ${(error as Error).message}`, 'error');
    }
  }

  async function reset(): Promise<void> {
    replace(errors);
    try {
      await deleteEscalation(patientId);
      ctx.toast("Escalation is back to Lantern's defaults for this patient.");
      await load();
    } catch (error) {
      ctx.toast(`Could not reset the escalation: ${(error as Error).message}`, 'error');
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    replace(errors);
    void (async () => {
      try {
        show(await putEscalation(patientId, policyOf(draft)));
        ctx.toast('Saved the escalation steps for this patient.');
      } catch (error) {
        showProblems(error);
      }
    })();
  });

  void load();
  return section;
}
