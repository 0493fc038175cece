import type { AlertPriority, AlertState } from '@lantern/domain';
import { h } from './dom.js';

// Shape and word carry the meaning; colour only repeats it.
const PRIORITY_ICON: Record<AlertPriority, string> = { high: '▲▲', medium: '▲', low: '●' };
const STATE_ICON: Record<AlertState, string> = { open: '!', acknowledged: '✓', resolved: '✔' };
const STATE_TEXT: Record<AlertState, string> = { open: 'Open', acknowledged: 'Acknowledged', resolved: 'Resolved' };

export function priorityBadge(priority: AlertPriority): HTMLElement {
  return h(
    'span',
    { class: `badge priority-${priority}`, 'data-priority': priority },
    h('span', { 'aria-hidden': 'true' }, PRIORITY_ICON[priority]),
    ` ${priority.charAt(0).toUpperCase()}${priority.slice(1)}`,
  );
}

export function stateBadge(state: AlertState): HTMLElement {
  return h(
    'span',
    { class: `badge state-${state}`, 'data-state': state },
    h('span', { 'aria-hidden': 'true' }, STATE_ICON[state]),
    ` ${STATE_TEXT[state]}`,
  );
}

export function statusBadge(ok: boolean, okText: string, badText: string): HTMLElement {
  return h(
    'span',
    { class: `badge ${ok ? 'ok' : 'warn'}` },
    h('span', { 'aria-hidden': 'true' }, ok ? '●' : '⚠'),
    ` ${ok ? okText : badText}`,
  );
}
