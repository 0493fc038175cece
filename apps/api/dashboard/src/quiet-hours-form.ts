import type { PatientSettingsResource, QuietHours } from '@lantern/domain';
import { request } from './api.js';
import type { AppContext } from './app-context.js';
import { h, replace } from './dom.js';

const getSettings = (): Promise<PatientSettingsResource> => request('GET', '/me/settings');
const putQuietHours = (quietHours: QuietHours | null): Promise<PatientSettingsResource> =>
  request('PUT', '/me/settings', { quietHours });

/** The browser's own zone: what a patient means by "22:00" unless they say otherwise. */
const browserZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone;

/**
 * The patient's "Quiet hours" (docs/alerting.md): a daily window in which messages that are not
 * urgent wait until the morning. Urgent and warning messages always come at once; the form says so,
 * so that nobody turns it on expecting silence about a serious low.
 */
export function quietHoursSection(ctx: AppContext): HTMLElement {
  const start = h('input', { type: 'time', id: 'quiet-start', required: true, value: '22:00' });
  const end = h('input', { type: 'time', id: 'quiet-end', required: true, value: '07:00' });
  const zone = h('input', {
    type: 'text',
    id: 'quiet-zone',
    required: true,
    value: browserZone(),
    autocomplete: 'off',
  });
  const status = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const error = h('p', { class: 'error', role: 'alert' });
  const off = h('button', { type: 'button', class: 'small' }, 'Turn quiet hours off');

  const show = (settings: PatientSettingsResource): void => {
    const q = settings.quietHours;
    if (q) {
      start.value = q.start.slice(0, 5);
      end.value = q.end.slice(0, 5);
      zone.value = q.timeZone;
    }
    off.hidden = q === null;
    replace(
      status,
      q
        ? `Quiet hours are on: from ${q.start.slice(0, 5)} to ${q.end.slice(0, 5)} (${q.timeZone}).`
        : 'Quiet hours are off: every message comes when it is sent.',
    );
  };
  const save = (quietHours: QuietHours | null): void => {
    error.textContent = '';
    putQuietHours(quietHours)
      .then(show)
      .catch((e: Error) => {
        error.textContent = e.message;
      });
  };

  const form = h(
    'form',
    { class: 'quiet-hours-form', 'aria-describedby': 'quiet-help' },
    h(
      'p',
      { id: 'quiet-help' },
      'Messages that are only for your information (a low battery, a reading a little out of range) wait until your quiet hours end. Urgent messages always come at once.',
    ),
    h('label', { for: 'quiet-start' }, 'From'),
    start,
    h('label', { for: 'quiet-end' }, 'Until'),
    end,
    h('label', { for: 'quiet-zone' }, 'Time zone'),
    zone,
    error,
    h('button', { type: 'submit', class: 'primary' }, 'Save quiet hours'),
    ' ',
    off,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    save({ start: start.value, end: end.value, timeZone: zone.value.trim() });
  });
  off.addEventListener('click', () => save(null));

  getSettings()
    .then(show)
    .catch((e: Error) => ctx.toast(`Could not load your quiet hours: ${e.message}`, 'error'));

  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'h-quiet', 'data-section': 'quiet-hours' },
    h('h2', { id: 'h-quiet' }, 'Quiet hours'),
    form,
    status,
  );
}
