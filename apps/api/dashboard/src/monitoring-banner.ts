import type { HealthResource } from '@lantern/domain';
import { request } from './api.js';
import { h } from './dom.js';

/** How often the dashboard asks whether monitoring works. */
const POLL_MS = 10_000;

/** Plain words for what /health reports as not working; empty when everything works. */
export function monitoringProblems(body: HealthResource | null): string[] {
  if (body === null) return ['Lantern cannot be reached.'];
  const problems: string[] = [];
  if (body.database === 'down') problems.push('The database is not answering.');
  if (body.broker === 'down') problems.push('The device message broker is not reachable.');
  if (body.ingest && body.ingest.status !== 'up') problems.push(...body.ingest.problems);
  // People not being told (the chain stopped, a channel failing) matters as much as readings not arriving.
  if (body.deliveries.status !== 'up') problems.push(...body.deliveries.problems);
  if (problems.length === 0 && body.status !== 'ok') problems.push('Lantern reports a problem.');
  return problems;
}

/**
 * A banner (fed by `GET /api/v1/monitoring`, the body of /health always with 200) that tells
 * clinicians when monitoring itself has stopped — readings not coming in,
 * alerts possibly not raised — so that a quiet board is never mistaken for quiet patients.
 * Details (which part failed) are shown to admins.
 */
export class MonitoringBanner {
  readonly element = h('section', { class: 'monitoring-banner', role: 'alert', hidden: true });
  private timer: number | undefined;

  constructor(private readonly showDetails: boolean) {}

  start(): void {
    void this.poll();
    this.timer = window.setInterval(() => void this.poll(), POLL_MS);
  }

  stop(): void {
    window.clearInterval(this.timer);
  }

  private async poll(): Promise<void> {
    let body: HealthResource | null = null;
    try {
      body = await request<HealthResource>('GET', '/monitoring');
    } catch {
      body = null;
    }
    this.render(monitoringProblems(body));
  }

  private render(problems: string[]): void {
    this.element.hidden = problems.length === 0;
    this.element.replaceChildren();
    if (problems.length === 0) return;
    this.element.append(
      h('strong', {}, '⚠ Monitoring interrupted. '),
      'New readings and alerts may not be arriving: check on high-risk patients by other means.',
      ...(this.showDetails ? [h('ul', {}, ...problems.map((p) => h('li', {}, p)))] : []),
    );
  }
}
