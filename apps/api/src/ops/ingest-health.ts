import type { IngestInstanceRecord } from '@lantern/storage';

/** The verdict on the ingest role: `up` only when every instance reporting is consuming. */
export interface IngestVerdict {
  readonly status: 'up' | 'stalled' | 'down';
  /** One plain sentence per problem, for /health, the dashboard banner and the system alert. */
  readonly problems: readonly string[];
  readonly instances: readonly IngestInstanceReport[];
}

export interface IngestInstanceReport {
  readonly instanceId: string;
  readonly clientId: string;
  /** The leader consumes; a standby waits for the leader's lease (and is not judged). */
  readonly role: 'leader' | 'standby';
  readonly heartbeatAgeMs: number;
  readonly connected: boolean;
  /** How long the connection it publishes alert and other events on has been down (0 while it is up). */
  readonly notPublishingForMs: number;
  readonly subscribed: readonly string[];
  /** How long it has not been connected and subscribed (0 while it is). */
  readonly notConsumingForMs: number;
  readonly lastMessageAgeMs: number | null;
  readonly canaryAgeMs: number | null;
  /** How long its last canary took through the broker and back (null before the first). */
  readonly canaryRoundTripMs: number | null;
  readonly oldestUnackedMs: number;
  readonly pendingMessages: number;
  readonly paused: boolean;
  readonly retryingWriters: readonly { readonly writer: string; readonly failingForMs: number }[];
}

const seconds = (ms: number): string => `${Math.round(ms / 1000)} s`;

/**
 * Judges the ingest instances' heartbeats (ages on each ingest's clock, plus the time since the
 * heartbeat on the database's clock). Per client id (one MQTT session) the newest leader counts:
 * it is down when its heartbeat is older than `stallAfterMs`; stalled when it has not been
 * connected and subscribed, has not been able to publish (its events connection), its canary has
 * not come back or took longer than that through the broker, a message has waited unacknowledged,
 * or a writer has kept failing for longer than that.
 * Older leaders of the same client id (a crashed process since replaced) and standbys are listed,
 * not judged. No leader at all is down. Pure: `now` is the database's clock.
 */
export function judgeIngest(
  now: number,
  records: readonly IngestInstanceRecord[],
  stallAfterMs: number,
): IngestVerdict {
  const problems: string[] = [];
  const instances = [...records].sort((a, b) => b.heartbeatAt - a.heartbeatAt).map((r) => report(now, r));
  const judged = new Set<string>();
  let down = false;
  for (const i of instances) {
    if (i.role !== 'leader' || judged.has(i.clientId)) continue;
    judged.add(i.clientId);
    const name = `ingest ${i.clientId}`;
    if (i.heartbeatAgeMs > stallAfterMs) {
      down = true;
      problems.push(`${name} has not reported for ${seconds(i.heartbeatAgeMs)}: it may have stopped`);
      continue;
    }
    // A reconnect or a restart takes a moment; only a lasting one is a stall (the canary tells sooner).
    if (i.notConsumingForMs > stallAfterMs)
      problems.push(
        i.connected
          ? `${name} has been connected but not subscribed for ${seconds(i.notConsumingForMs)}`
          : `${name} has not been connected to the broker for ${seconds(i.notConsumingForMs)}`,
      );
    if (i.notPublishingForMs > stallAfterMs)
      problems.push(
        `${name} has not been able to publish to the broker for ${seconds(i.notPublishingForMs)}: alerts are stored but not pushed to dashboards`,
      );
    if (i.canaryAgeMs !== null && i.canaryAgeMs > stallAfterMs)
      problems.push(`${name}: its canary has not come back through the broker for ${seconds(i.canaryAgeMs)}`);
    // Its own figures start at its socket: only the canary sees the broker's queue in front of it.
    else if (i.canaryRoundTripMs !== null && i.canaryRoundTripMs > stallAfterMs)
      problems.push(
        `${name} is ${seconds(i.canaryRoundTripMs)} behind the broker: its canary took that long to come back, and device messages wait as long`,
      );
    if (i.oldestUnackedMs > stallAfterMs)
      problems.push(`${name}: a message has waited ${seconds(i.oldestUnackedMs)} to be stored`);
    for (const w of i.retryingWriters)
      if (w.failingForMs > stallAfterMs)
        problems.push(`${name}: writing ${w.writer} has failed for ${seconds(w.failingForMs)}`);
  }
  if (judged.size === 0) {
    down = true;
    problems.unshift(
      instances.length === 0
        ? 'no ingest is running: readings are not being received'
        : 'no ingest is consuming (only standbys are running): readings are not being received',
    );
  }
  return { status: down ? 'down' : problems.length > 0 ? 'stalled' : 'up', problems, instances };
}

function report(now: number, r: IngestInstanceRecord): IngestInstanceReport {
  const s = r.state;
  const since = Math.max(0, now - r.heartbeatAt);
  const age = (value: number | null | undefined): number | null =>
    value === null || value === undefined ? null : value + since;
  return {
    instanceId: r.instanceId,
    clientId: r.clientId,
    role: r.role,
    heartbeatAgeMs: since,
    connected: s.connected ?? false,
    notPublishingForMs: s.notPublishingForMs ? s.notPublishingForMs + since : 0,
    subscribed: s.subscribed ?? [],
    notConsumingForMs: s.notConsumingForMs ? s.notConsumingForMs + since : 0,
    lastMessageAgeMs: age(s.lastMessageAgeMs),
    canaryAgeMs: age(s.canaryAgeMs),
    canaryRoundTripMs: s.canaryRoundTripMs ?? null,
    oldestUnackedMs: s.oldestUnackedMs ? s.oldestUnackedMs + since : 0,
    pendingMessages: s.pendingMessages ?? 0,
    paused: s.paused ?? false,
    retryingWriters: (s.retryingWriters ?? []).map((w) => ({ writer: w.writer, failingForMs: w.failingForMs + since })),
  };
}
