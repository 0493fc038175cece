import type { AlertResource } from '@lantern/domain';
import { h, replace } from './dom.js';
import { priorityBadge } from './badges.js';

const MUTE_KEY = 'lantern.muted';
const REPEAT_MS = 60_000;

/**
 * High-priority alerts: a visible banner, an audible cue (WebAudio, mutable, the choice
 * remembered) and an announcement in an ARIA live region, so no one depends on colour or sound alone.
 */
export class AlarmCenter {
  readonly banner = h('section', { class: 'alarm-banner', 'aria-label': 'High-priority alerts', hidden: true });
  readonly assertive = h('div', {
    class: 'sr-only',
    'aria-live': 'assertive',
    'aria-atomic': 'true',
    'data-testid': 'announcer',
  });
  readonly polite = h('div', { class: 'sr-only', 'aria-live': 'polite', 'aria-atomic': 'true' });
  readonly muteButton = h('button', { type: 'button', class: 'mute', onclick: () => this.onMuteClick() });
  private readonly high = new Map<string, AlertResource>();
  private audio: AudioContext | null = null;
  private repeatTimer: number | undefined;
  muted = localStorage.getItem(MUTE_KEY) === '1';
  /** Cues due (an alert that should sound), and cues that actually played; the page exposes both for tests. */
  beepsDue = 0;
  beepsPlayed = 0;
  /** Whether sound was held back by the browser when the latest gesture began (see onMuteClick). */
  private blockedAtGesture = false;

  constructor(
    private readonly patientName: (patientId: string) => string,
    private readonly actions: { view: (alert: AlertResource) => void; acknowledge: (alert: AlertResource) => void },
  ) {
    // The context is opened at once so the header can say when the browser holds sound back: it
    // starts suspended until the page has had a gesture (after a reload with a kept session, say),
    // and the button then reads "Sound blocked" rather than a reassuring "Sound on".
    this.ensureAudio();
    this.renderMute();
    const onGesture = (): void => {
      this.blockedAtGesture = this.soundBlocked;
      this.ensureAudio();
    };
    window.addEventListener('pointerdown', onGesture, true);
    window.addEventListener('keydown', onGesture, true);
  }

  /** Sound is wanted but the browser does not play it yet (no gesture on this page so far). */
  get soundBlocked(): boolean {
    return !this.muted && this.audio !== null && this.audio.state !== 'running';
  }

  /** Alerts known when the page loads: shown, not sounded. */
  seed(alerts: Iterable<AlertResource>): void {
    for (const alert of alerts) if (alert.priority === 'high' && alert.state === 'open') this.high.set(alert.id, alert);
    this.render();
  }

  /** A live `alert` event: new or escalated high alerts sound and are announced. */
  onAlert(alert: AlertResource): void {
    const known = this.high.get(alert.id);
    if (alert.priority === 'high' && alert.state === 'open') {
      this.high.set(alert.id, alert);
      if (!known || alert.escalationLevel > known.escalationLevel) {
        this.announce(`High priority alert for ${this.patientName(alert.patientId)}: ${alert.message}`, true);
        this.beep();
      }
    } else {
      this.high.delete(alert.id);
      if (alert.state === 'open' && !known) {
        this.announce(
          `${alert.priority} priority alert for ${this.patientName(alert.patientId)}: ${alert.message}`,
          false,
        );
      }
    }
    this.render();
  }

  announce(text: string, urgent: boolean): void {
    const region = urgent ? this.assertive : this.polite;
    // Clearing first makes screen readers repeat an identical message.
    region.textContent = '';
    window.setTimeout(() => (region.textContent = text), 50);
  }

  setMuted(muted: boolean): void {
    this.muted = muted;
    localStorage.setItem(MUTE_KEY, muted ? '1' : '0');
    this.renderMute();
  }

  /** A click that gave the page its first gesture only lets sound start: it must not mute it too. */
  private onMuteClick(): void {
    if (this.blockedAtGesture) {
      this.blockedAtGesture = false;
      this.renderMute();
      return;
    }
    this.setMuted(!this.muted);
  }

  private renderMute(): void {
    const blocked = this.soundBlocked;
    this.muteButton.setAttribute('aria-pressed', String(this.muted));
    this.muteButton.classList.toggle('blocked', blocked);
    this.muteButton.textContent = this.muted
      ? '♪ Sound off'
      : blocked
        ? '♪ Sound blocked: click to allow'
        : '♪ Sound on';
    this.muteButton.title = this.muted
      ? 'Alarm sound is muted: click to turn it on'
      : blocked
        ? 'Your browser plays no sound on this page until you click or press a key'
        : 'Click to mute the alarm sound';
  }

  private render(): void {
    const alerts = [...this.high.values()].sort((a, b) => Date.parse(b.openedAt) - Date.parse(a.openedAt));
    this.banner.hidden = alerts.length === 0;
    replace(
      this.banner,
      alerts.map((alert) =>
        h(
          'div',
          { class: 'alarm', 'data-alert-id': alert.id },
          priorityBadge('high'),
          h('span', { class: 'alarm-text' }, h('strong', {}, this.patientName(alert.patientId)), ` — ${alert.message}`),
          h('button', { type: 'button', onclick: () => this.actions.view(alert) }, 'View'),
          h(
            'button',
            { type: 'button', class: 'primary', onclick: () => this.actions.acknowledge(alert) },
            'Acknowledge',
          ),
        ),
      ),
    );
    window.clearInterval(this.repeatTimer);
    if (alerts.length) this.repeatTimer = window.setInterval(() => this.beep(), REPEAT_MS);
  }

  private ensureAudio(): AudioContext | null {
    if (!this.audio && typeof AudioContext !== 'undefined') {
      this.audio = new AudioContext();
      this.audio.addEventListener('statechange', () => this.renderMute());
    }
    if (this.audio?.state === 'suspended') void this.audio.resume();
    return this.audio;
  }

  /** Two groups of falling tones, distinct from a medium-priority cue (there is none). */
  private beep(): void {
    document.body.dataset.beepsDue = String(++this.beepsDue);
    if (this.muted) return;
    const ctx = this.ensureAudio();
    if (!ctx || ctx.state !== 'running') return;
    const start = ctx.currentTime + 0.02;
    [0, 0.2, 0.4, 0.9, 1.1].forEach((offset, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'square';
      osc.frequency.value = i % 2 === 0 ? 880 : 660;
      gain.gain.setValueAtTime(0.0001, start + offset);
      gain.gain.exponentialRampToValueAtTime(0.15, start + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.15);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start + offset);
      osc.stop(start + offset + 0.16);
    });
    document.body.dataset.beepsPlayed = String(++this.beepsPlayed);
  }
}
