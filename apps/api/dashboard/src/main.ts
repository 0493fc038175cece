import './styles.css';
import type { AlertResource } from '@lantern/domain';
import {
  acknowledgeAlert,
  endSession,
  keepSessionFresh,
  loadSession,
  login,
  mayHaveLogin,
  onSessionRenewed,
  patientName,
  refreshSession,
  resolveAlert,
  saveSession,
  setUnauthorizedHandler,
  type Session,
} from './api.js';
import { AlarmCenter } from './alarm.js';
import type { AppContext } from './app-context.js';
import { boardView } from './board.js';
import { caregiverView } from './caregiver-view.js';
import { h, replace } from './dom.js';
import { invitationView } from './invitation-view.js';
import { LiveConnection } from './live.js';
import { MonitoringBanner } from './monitoring-banner.js';
import { patientDetailView } from './patient-detail.js';
import { patientView } from './patient-view.js';
import { pushOptInButton } from './push-opt-in.js';
import { ClinicianStore } from './store.js';

const app = document.getElementById('app')!;

/** Where each role lands: patients on their own page, caregivers on what is shared with them, staff on the board. */
function homeOf(role: Session['user']['role']): string {
  return role === 'patient' ? '/me' : role === 'caregiver' ? '/shared' : '/';
}

/** The lantern mark, inline so no font or file is needed. */
function logo(): HTMLElement {
  const span = h('span', { class: 'logo', 'aria-hidden': 'true' });
  span.innerHTML =
    '<svg viewBox="0 0 24 24" width="22" height="22"><path d="M9 2h6v2H9z" fill="currentColor"/><path d="M7 5h10l1 3v9l-1 3H7l-1-3V8z" fill="#f59e0b" stroke="currentColor" stroke-width="1.5"/><circle cx="12" cy="12.5" r="2.5" fill="#fff7ed"/><path d="M8 21h8v1H8z" fill="currentColor"/></svg>';
  return span;
}

/** Everything that lives while a user is signed in. */
interface Shell {
  ctx: AppContext;
  store: ClinicianStore | null;
  alarm: AlarmCenter | null;
  main: HTMLElement;
  dispose: () => void;
}

let shell: Shell | null = null;
let disposeView: () => void = () => undefined;
/**
 * A new tab or a restarted browser has no session yet, but the refresh cookie may still hold a
 * login: tried once per page, and never after signing out here.
 */
let triedCookie = false;

function navigate(path: string, replaceState = false): void {
  if (replaceState) history.replaceState(null, '', path);
  else if (location.pathname !== path) history.pushState(null, '', path);
  route();
}

/** Back to sign-in: by the user's choice, or because the login was revoked or refused (the server ends it either way). */
function signOut(): void {
  triedCookie = true;
  endSession();
  disposeView();
  shell?.dispose();
  shell = null;
  navigate('/login', true);
}
setUnauthorizedHandler(signOut);

const toastBox = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
function toast(text: string, kind: 'info' | 'error' = 'info'): void {
  const item = h('div', { class: `toast ${kind}` }, kind === 'error' ? '⚠ ' : '✓ ', text);
  toastBox.appendChild(item);
  window.setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000);
}

function startShell(session: Session): Shell {
  const live = new LiveConnection(session.token, {
    renew: async () => (await refreshSession())?.token ?? null,
    revoked: signOut,
  });
  // A wall display stays up while its user is valid: the access token is renewed before it expires.
  const stopRenewing = keepSessionFresh(signOut);
  const offRenewed = onSessionRenewed((renewed) => live.setToken(renewed.token));
  const isClinician = session.user.role === 'admin' || session.user.role === 'clinician';
  const store = isClinician ? new ClinicianStore(live) : null;
  const main = h('main', { id: 'main', tabindex: '-1' });
  const liveStatus = h('span', { class: 'live-status', 'data-live': 'connecting' });
  // Clinicians must know when monitoring itself stops: a quiet board is not quiet patients.
  const monitoring = isClinician ? new MonitoringBanner(session.user.role === 'admin') : null;
  monitoring?.start();
  const ctx: AppContext = {
    session,
    live,
    navigate,
    toast,
    acknowledge: (alert) => transition(alert, acknowledgeAlert, 'acknowledged'),
    resolve: (alert) => transition(alert, resolveAlert, 'resolved'),
  };
  async function transition(
    alert: AlertResource,
    call: (id: string) => Promise<AlertResource>,
    verb: string,
  ): Promise<AlertResource | null> {
    try {
      const updated = await call(alert.id);
      // The store tells the alarm, unless a newer version has already arrived live.
      store?.applyAlert(updated);
      toast(`Alert ${verb}.`);
      return updated;
    } catch (error) {
      toast(`Could not mark the alert ${verb}: ${(error as Error).message}`, 'error');
      return null;
    }
  }
  const alarm = store
    ? new AlarmCenter((id) => patientName(store.patients.get(id)?.patient), {
        view: (alert) => navigate(`/patients/${alert.patientId}`),
        acknowledge: (alert) => void ctx.acknowledge(alert),
      })
    : null;
  // Through the store, not straight from the socket: alerts found when catching up after a
  // reconnect sound too, and a late, older copy of an alert never overrides a newer one.
  if (alarm && store) store.onAlert((a) => alarm.onAlert(a));
  const offStatus = live.onStatus((status) => {
    liveStatus.dataset.live = status;
    liveStatus.textContent =
      status === 'live' ? '● Live' : status === 'connecting' ? '○ Connecting…' : '⚠ Reconnecting…';
  });

  const header = h(
    'header',
    { class: 'topbar' },
    h(
      'a',
      { href: '/skip', class: 'skip', onclick: (e: Event) => (e.preventDefault(), main.focus()) },
      'Skip to content',
    ),
    h('a', { href: homeOf(session.user.role), class: 'brand', 'data-link': true }, logo(), ' Lantern'),
    liveStatus,
    h('span', { class: 'spacer' }),
    alarm?.muteButton ?? null,
    pushOptInButton(toast),
    h('span', { class: 'user' }, session.user.displayName ?? session.user.email),
    h('button', { type: 'button', onclick: signOut }, 'Sign out'),
  );
  replace(
    app,
    header,
    monitoring?.element ?? null,
    alarm?.banner ?? null,
    main,
    alarm?.assertive ?? null,
    alarm?.polite ?? null,
    toastBox,
  );

  if (store) {
    store
      .load()
      .then((problems) => {
        alarm?.seed([...store.patients.values()].flatMap((p) => [...p.alerts.values()]));
        for (const problem of problems) toast(`Could not load ${problem}`, 'error');
      })
      .catch((error: Error) => toast(`Could not load patients: ${error.message}`, 'error'));
  }
  return {
    ctx,
    store,
    alarm,
    main,
    dispose: () => {
      stopRenewing();
      offRenewed();
      offStatus();
      monitoring?.stop();
      live.close();
    },
  };
}

function loginView(): void {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, id: 'email' });
  const password = h('input', {
    type: 'password',
    name: 'password',
    autocomplete: 'current-password',
    required: true,
    id: 'password',
  });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    { class: 'login card', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, logo(), ' Lantern'),
    h('label', { for: 'email' }, 'Email'),
    email,
    h('label', { for: 'password' }, 'Password'),
    password,
    error,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    error.textContent = '';
    login(email.value, password.value)
      .then((session) => {
        saveSession(session);
        navigate(homeOf(session.user.role), true);
      })
      .catch((e: Error) => (error.textContent = e.message === 'Unauthorized' ? 'Wrong email or password.' : e.message));
  });
  replace(app, h('main', { class: 'login-page' }, form), toastBox);
  document.title = 'Sign in · Lantern';
  email.focus();
}

function route(): void {
  disposeView();
  disposeView = () => undefined;
  const session = loadSession();
  const path = location.pathname;
  if (path === '/invitation') {
    // Accepting signs in as the invited caregiver, whoever was signed in on this tab before.
    shell?.dispose();
    shell = null;
    invitationView(app, logo, (accepted) => navigate(homeOf(accepted.user.role), true));
    app.appendChild(toastBox);
    return;
  }
  if (!session && !triedCookie && mayHaveLogin()) {
    triedCookie = true;
    refreshSession()
      .catch(() => null)
      .then(() => route())
      .catch((error: unknown) => console.warn('could not start', error));
    return;
  }
  if (!session) {
    if (path !== '/login') history.replaceState(null, '', '/login');
    shell?.dispose();
    shell = null;
    loginView();
    return;
  }
  if (path === '/login') return navigate(homeOf(session.user.role), true);
  shell ??= startShell(session);
  const { ctx, store, main } = shell;
  const detail = /^\/patients\/([0-9a-f-]{36})$/i.exec(path);
  if (session.user.role === 'patient') {
    if (path !== '/me') return navigate('/me', true);
    document.title = 'My readings · Lantern';
    disposeView = patientView(main, ctx);
  } else if (session.user.role === 'caregiver') {
    if (path !== '/shared') return navigate('/shared', true);
    document.title = 'Shared with me · Lantern';
    disposeView = caregiverView(main, ctx);
  } else if (detail && store) {
    disposeView = patientDetailView(main, detail[1], store, ctx);
  } else if (store) {
    if (path !== '/') history.replaceState(null, '', '/');
    document.title = 'Triage board · Lantern';
    disposeView = boardView(main, store, ctx);
  }
  window.scrollTo(0, 0);
}

// In-app links navigate without reloading the page (the server falls back to index.html for deep links).
document.addEventListener('click', (event) => {
  const link = (event.target as Element | null)?.closest?.('a[data-link]');
  if (!link || event.defaultPrevented || (event as MouseEvent).ctrlKey || (event as MouseEvent).metaKey) return;
  event.preventDefault();
  navigate(new URL((link as HTMLAnchorElement).href).pathname);
});
window.addEventListener('popstate', route);
route();
