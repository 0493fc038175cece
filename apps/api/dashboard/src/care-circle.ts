import {
  SHARING_SCOPES,
  type AccessLogEntryResource,
  type CaregiverResource,
  type SharingScope,
} from '@lantern/domain';
import { changeCaregiverScopes, getAccessLog, getCaregivers, inviteCaregiver, revokeCaregiver } from './api.js';
import type { AppContext } from './app-context.js';
import { h, replace } from './dom.js';
import { whenSpoken } from './format.js';

/** What each scope shares, in the patient's words. */
export const SCOPE_WORDS: Record<SharingScope, string> = {
  glucose: 'Glucose (blood sugar)',
  cardiac: 'Heart rate and heart pressure',
  respiratory: 'Breathing and blood oxygen',
  weight: 'Weight',
  blood_pressure: 'Blood pressure',
  temperature: 'Body temperature',
  devices: 'My devices and their batteries',
  alerts: 'Alerts about what I share',
  notifications: 'The messages I receive',
};

/** A fieldset of one checkbox per scope, `checked` ticked; returns it and a reader of the ticked scopes. */
function scopePicker(
  legend: string,
  checked: readonly SharingScope[],
): { element: HTMLElement; read: () => SharingScope[] } {
  const boxes = SHARING_SCOPES.map((scope) => ({
    scope,
    input: h('input', { type: 'checkbox', name: 'scope', value: scope, checked: checked.includes(scope) }),
  }));
  const element = h(
    'fieldset',
    { class: 'scopes' },
    h('legend', {}, legend),
    boxes.map(({ scope, input }) => h('label', { class: 'scope' }, input, ` ${SCOPE_WORDS[scope]}`)),
  );
  return { element, read: () => boxes.filter((b) => b.input.checked).map((b) => b.scope) };
}

/** "Maria (maria@example.com)", or the address alone. */
function nameOf(caregiver: CaregiverResource): string {
  return caregiver.name ? `${caregiver.name} (${caregiver.email})` : caregiver.email;
}

/**
 * The patient's "People who can see my data" (contract §4.2): who they share with and what, an
 * invitation form that shows the new invitation link once, scope changes and revocation — each
 * applies at once on the server, live views included.
 */
export function careCircleSection(ctx: AppContext): HTMLElement {
  const list = h('ul', { class: 'caregivers', 'aria-label': 'People who can see your data' });
  const invitationBox = h('div', { class: 'invitation-box', role: 'status', 'aria-live': 'polite' });
  const email = h('input', { type: 'email', id: 'caregiver-email', required: true, autocomplete: 'off' });
  const name = h('input', { type: 'text', id: 'caregiver-name', autocomplete: 'off' });
  const picker = scopePicker('What they may see', ['glucose', 'alerts']);
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    { class: 'invite-form', 'aria-labelledby': 'h-invite' },
    h('h3', { id: 'h-invite' }, 'Invite someone'),
    h('label', { for: 'caregiver-email' }, 'Their email'),
    email,
    h('label', { for: 'caregiver-name' }, 'Their name (optional)'),
    name,
    picker.element,
    error,
    h('button', { type: 'submit', class: 'primary' }, 'Invite'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    error.textContent = '';
    const scopes = picker.read();
    if (scopes.length === 0) {
      error.textContent = 'Choose at least one thing to share.';
      return;
    }
    inviteCaregiver({ email: email.value, ...(name.value && { name: name.value }), scopes })
      .then((invited) => {
        const link = `${location.origin}/invitation#${invited.invitation.token}`;
        replace(
          invitationBox,
          h(
            'p',
            {},
            `Send this link to ${invited.name ?? invited.email} yourself, for example by message. It works once, until ${whenSpoken(invited.invitation.expiresAt)}, and this is the only time it is shown.`,
          ),
          h('input', {
            type: 'text',
            readonly: true,
            class: 'invitation-link',
            'aria-label': 'Invitation link',
            value: link,
            onfocus: (e: Event) => (e.target as HTMLInputElement).select(),
          }),
        );
        form.reset();
        void load();
      })
      .catch((e: Error) => (error.textContent = e.message));
  });

  function render(caregivers: CaregiverResource[]): void {
    replace(
      list,
      caregivers.length ? null : h('li', { class: 'muted' }, 'Nobody else can see your data.'),
      caregivers.map((c) => {
        const edit = scopePicker('They may see', c.scopes);
        const status = h('p', { class: 'muted' });
        status.textContent =
          c.status === 'active'
            ? `Can see your data since ${whenSpoken(c.acceptedAt ?? c.invitedAt)}.`
            : `Invited; not accepted yet${c.invitationExpiresAt ? ` (the invitation ends ${whenSpoken(c.invitationExpiresAt)})` : ''}.`;
        const stop = h('button', { type: 'button', class: 'small danger' }, 'Stop sharing');
        let armed = false;
        stop.addEventListener('click', () => {
          // Two steps instead of a dialog: a slip of the finger never ends someone's access.
          if (!armed) {
            armed = true;
            stop.textContent = `Yes, stop sharing with ${c.name ?? c.email} now`;
            return;
          }
          revokeCaregiver(c.id)
            .then(() => {
              ctx.toast(`${c.name ?? c.email} can no longer see your data.`);
              void load();
            })
            .catch((e: Error) => ctx.toast(`Could not stop sharing: ${e.message}`, 'error'));
        });
        const save = h('button', { type: 'button', class: 'small' }, 'Save changes');
        save.addEventListener('click', () => {
          const scopes = edit.read();
          if (scopes.length === 0) return ctx.toast('Choose at least one thing, or stop sharing.', 'error');
          changeCaregiverScopes(c.id, scopes)
            .then(() => {
              ctx.toast(`Saved: ${c.name ?? c.email} now sees only what is ticked.`);
              void load();
            })
            .catch((e: Error) => ctx.toast(`Could not save: ${e.message}`, 'error'));
        });
        return h(
          'li',
          { class: `caregiver ${c.status}`, 'data-caregiver-id': c.id, 'data-status': c.status },
          h('strong', {}, nameOf(c)),
          status,
          edit.element,
          h('div', { class: 'actions' }, save, ' ', stop),
        );
      }),
    );
  }

  async function load(): Promise<void> {
    try {
      render(await getCaregivers());
    } catch (e) {
      ctx.toast(`Could not load the people you share with: ${(e as Error).message}`, 'error');
    }
  }
  void load();
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'h-circle', 'data-section': 'care-circle' },
    h('h2', { id: 'h-circle' }, 'People who can see my data'),
    list,
    form,
    invitationBox,
  );
}

/** The patient's "Who looked at my data": the access log, newest first, in plain words, with older pages on demand. */
export function accessLogSection(ctx: AppContext): HTMLElement {
  const PAGE = 20;
  const list = h('ol', { class: 'access-log', 'aria-label': 'Who looked at your data' });
  const more = h('button', { type: 'button', class: 'small', hidden: true }, 'Show older');
  let last: string | undefined;

  function add(entries: AccessLogEntryResource[]): void {
    for (const entry of entries)
      list.appendChild(
        h(
          'li',
          { 'data-action': entry.action, 'data-role': entry.actor.role },
          `${entry.detail}, `,
          h('time', { datetime: entry.at }, whenSpoken(entry.at)),
          '.',
        ),
      );
  }

  async function page(): Promise<void> {
    try {
      const entries = await getAccessLog(last, PAGE);
      if (last === undefined && entries.length === 0)
        list.appendChild(h('li', { class: 'muted' }, 'Nobody else has looked at your data yet.'));
      add(entries);
      last = entries.at(-1)?.id ?? last;
      more.hidden = entries.length < PAGE;
    } catch (e) {
      ctx.toast(`Could not load who looked at your data: ${(e as Error).message}`, 'error');
    }
  }
  more.addEventListener('click', () => void page());
  void page();
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'h-log', 'data-section': 'access-log' },
    h('h2', { id: 'h-log' }, 'Who looked at my data'),
    list,
    more,
  );
}
