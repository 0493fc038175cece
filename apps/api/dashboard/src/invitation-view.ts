import { acceptInvitation, saveSession, type Session } from './api.js';
import { h, replace } from './dom.js';

/**
 * The page an invitation link opens (`/invitation#<token>`): the token rides in the fragment, which
 * browsers never send to the server, so it stays out of access logs and Referer headers. The
 * invited person picks a password (or gives their existing caregiver account's) and is signed in.
 */
export function invitationView(root: HTMLElement, logo: () => HTMLElement, signedIn: (session: Session) => void): void {
  const fromLink = decodeURIComponent(location.hash.slice(1));
  const token = h('input', {
    type: 'text',
    id: 'invitation-token',
    required: true,
    autocomplete: 'off',
    value: fromLink,
  });
  const name = h('input', { type: 'text', id: 'invitation-name', autocomplete: 'name' });
  const password = h('input', {
    type: 'password',
    id: 'invitation-password',
    autocomplete: 'new-password',
    required: true,
    minlength: 10,
  });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    { class: 'login card', 'aria-labelledby': 'invitation-title' },
    h('h1', { id: 'invitation-title' }, logo(), ' Lantern'),
    h('p', {}, 'Someone invited you to see some of their health data. Choose a password to accept.'),
    h('label', { for: 'invitation-token', hidden: fromLink !== '' }, 'Invitation code'),
    fromLink === '' ? token : null,
    h('label', { for: 'invitation-name' }, 'Your name'),
    name,
    h('label', { for: 'invitation-password' }, 'Password (at least 10 characters)'),
    password,
    h(
      'p',
      { class: 'muted' },
      'Already helping someone else on Lantern? Use the password of that account: both will be in one place.',
    ),
    error,
    h('button', { type: 'submit', class: 'primary' }, 'Accept and sign in'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    error.textContent = '';
    acceptInvitation(token.value.trim(), password.value, name.value.trim())
      .then((session) => {
        saveSession(session);
        // The token is spent: keep it out of the history.
        history.replaceState(null, '', '/invitation');
        signedIn(session);
      })
      .catch(
        (e: Error) =>
          (error.textContent =
            e.message === 'Unauthorized' ? 'This invitation is not valid any more. Ask for a new one.' : e.message),
      );
  });
  replace(root, h('main', { class: 'login-page' }, form));
  document.title = 'Accept an invitation · Lantern';
  (fromLink === '' ? token : name).focus();
}
