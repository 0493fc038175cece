import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { ShareChanges, type PatientGrant, type SessionPrincipal, type ShareChange } from '@lantern/auth';
import type { SharingScope, SubscribeAck } from '@lantern/domain';
import { patientSelfRoom, sharedRoomsOf, watchersRoom } from './live-broadcaster.js';
import { ACCESS_RECHECK_MS, SESSION_RECHECK_MS } from './live-intervals.js';
import { LIVE_LOG_CONTEXT, LiveSockets, type LiveSocket } from './live-sockets.js';
import { LiveService } from './live.service.js';

/**
 * Who watches which patient on this instance's sockets, kept in line with who may: grants a
 * subscription (LiveService decides) and joins the rooms its grant shows, releases it on
 * unsubscribe or disconnect, and keeps checking the granted ones — the visibility rule every
 * ACCESS_RECHECK_MS, caregivers' shares when they change — so a socket receives only what its
 * person may see now.
 */
@Injectable()
export class LiveSubscriptionsService implements OnModuleDestroy {
  private readonly logger = new Logger(LIVE_LOG_CONTEXT);
  private readonly recheckTimer: NodeJS.Timeout;
  private readonly stopShareChanges: () => void;

  constructor(
    private readonly live: LiveService,
    private readonly sockets: LiveSockets,
    shareChanges: ShareChanges,
  ) {
    this.recheckTimer = setInterval(() => void this.revalidate(), ACCESS_RECHECK_MS);
    this.recheckTimer.unref();
    // A share changed here: that caregiver's sockets follow at once (the sweep catches other instances' changes).
    this.stopShareChanges = shareChanges.onChanged((changes) => void this.reconcileShares(changes));
  }

  onModuleDestroy(): void {
    clearInterval(this.recheckTimer);
    this.stopShareChanges();
  }

  /** A well-formed `subscribe`: already watched is ok, one being granted shares that answer. */
  async subscribe(socket: LiveSocket, patientId: string): Promise<SubscribeAck> {
    if (socket.data.patients.has(patientId)) return { ok: true };
    const pending = socket.data.pending.get(patientId);
    if (pending) return await pending;
    const granting = this.grant(socket, patientId);
    socket.data.pending.set(patientId, granting);
    try {
      return await granting;
    } finally {
      socket.data.pending.delete(patientId);
    }
  }

  /** A well-formed `unsubscribe`. */
  async unsubscribe(socket: LiveSocket, patientId: string): Promise<SubscribeAck> {
    // A subscribe still being checked settles first, or its grant would land after this answer.
    await socket.data.pending.get(patientId);
    // Unsubscribing from something never subscribed is harmless and reveals nothing: always ok.
    if (!socket.data.patients.delete(patientId)) return { ok: true };
    await this.sockets.leaveRooms(socket, patientId);
    await this.live.unsubscribe(patientId);
    return { ok: true };
  }

  /** Gives back every watch of a socket that disconnected. */
  async releaseAll(socket: LiveSocket): Promise<void> {
    const patients = socket.data.patients ?? new Set<string>();
    await Promise.all([...patients].map((patientId) => this.live.unsubscribe(patientId)));
    patients.clear();
  }

  /**
   * Brings caregivers' subscriptions on this instance in line with their shares (all of them, or
   * only those of `changes`): a revoked share drops the subscription, changed scopes swap the
   * rooms, so the socket receives only what is shared now. One query for all of them. A failed query
   * keeps the rooms until the next sweep (SESSION_RECHECK_MS), well within the 5 s of contract §4.2.
   */
  async reconcileShares(changes?: readonly ShareChange[]): Promise<void> {
    const wanted = changes && new Set(changes.map((c) => `${c.caregiverId}:${c.patientId}`));
    const subscriptions: { socket: LiveSocket; caregiverId: string; patientId: string }[] = [];
    for (const socket of this.sockets.all()) {
      const { principal, patients } = socket.data;
      if (principal?.role !== 'caregiver') continue;
      for (const patientId of patients ?? [])
        if (wanted === undefined || wanted.has(`${principal.userId}:${patientId}`))
          subscriptions.push({ socket, caregiverId: principal.userId, patientId });
    }
    if (subscriptions.length === 0) return;
    let scopes: Map<string, SharingScope[]>;
    try {
      scopes = await this.live.sharedScopes(subscriptions);
    } catch (error) {
      this.logger.warn(`caregiver share re-check failed (retried in ${SESSION_RECHECK_MS} ms): ${String(error)}`);
      return;
    }
    await Promise.all(
      subscriptions.map(async ({ socket, caregiverId, patientId }) => {
        // Unsubscribed, or re-authenticated as someone else, while we asked.
        if (!socket.data.patients.has(patientId) || socket.data.principal.userId !== caregiverId) return;
        const shared = scopes.get(`${caregiverId}:${patientId}`);
        if (shared === undefined) {
          socket.data.patients.delete(patientId);
          await this.sockets.leaveRooms(socket, patientId);
          await this.live.unsubscribe(patientId);
          return;
        }
        const before = socket.data.rooms.get(patientId) ?? [];
        const after = sharedRoomsOf(patientId, new Set(shared));
        socket.data.rooms.set(patientId, after);
        for (const room of before) if (!after.includes(room)) await socket.leave(room);
        const joining = after.filter((r) => !before.includes(r));
        if (joining.length > 0) await socket.join(joining);
      }),
    );
  }

  /**
   * Checks every subscription on this instance against the visibility rule again and drops those no
   * longer allowed (a clinician taken off a care team), so access ends within ACCESS_RECHECK_MS. One
   * query per person watching, whatever the number of their sockets and patients.
   */
  async revalidate(): Promise<void> {
    const watching = new Map<string, { principal: SessionPrincipal; sockets: LiveSocket[]; patients: Set<string> }>();
    const keyOf = (principal: SessionPrincipal) => `${principal.role}:${principal.userId}`;
    for (const socket of this.sockets.all()) {
      const { principal, patients } = socket.data;
      if (!principal || !patients || patients.size === 0) continue;
      const key = keyOf(principal);
      const entry = watching.get(key) ?? { principal, sockets: [], patients: new Set<string>() };
      entry.sockets.push(socket);
      for (const patientId of patients) entry.patients.add(patientId);
      watching.set(key, entry);
    }
    await Promise.all(
      [...watching.values()].map(async ({ principal, sockets, patients }) => {
        let visible: Set<string>;
        try {
          visible = await this.live.stillWatchable(principal, [...patients]);
        } catch (error) {
          // A database hiccup keeps the subscriptions (they were granted; dropping every watcher's alerts would be worse) until the next check.
          this.logger.warn(`live access re-check failed: ${String(error)}`);
          return;
        }
        for (const socket of sockets) {
          // Re-authenticated as someone else while we asked: that person's subscriptions are not these.
          if (keyOf(socket.data.principal) !== keyOf(principal)) continue;
          // Only what was checked: a subscription granted while we asked is not in `visible`.
          for (const patientId of patients) {
            if (visible.has(patientId.toLowerCase()) || !socket.data.patients.delete(patientId)) continue;
            await this.sockets.leaveRooms(socket, patientId);
            await this.live.unsubscribe(patientId);
          }
        }
      }),
    );
  }

  private async grant(socket: LiveSocket, patientId: string): Promise<SubscribeAck> {
    const { principal } = socket.data;
    const grant = await this.live.subscribe({ principal, ip: socket.handshake.address }, patientId);
    if (grant === undefined) return { ok: false, error: 'not_found' };
    if (!socket.connected) {
      // Left while we were checking: give the watch back at once (disconnect only releases granted ones).
      await this.live.unsubscribe(patientId);
      return { ok: true };
    }
    socket.data.patients.add(patientId);
    const rooms = roomsOf(principal, patientId, grant);
    socket.data.rooms.set(patientId, rooms);
    await socket.join(rooms);
    return { ok: true };
  }
}

/** The rooms a socket joins for a granted subscription: everything, or the caregiver's shared audiences. */
function roomsOf(principal: SessionPrincipal, patientId: string, grant: PatientGrant): string[] {
  if (grant.kind === 'shared') return sharedRoomsOf(patientId, grant.scopes);
  const rooms = [watchersRoom(patientId)];
  if (principal.role === 'patient' && principal.patientId === patientId) rooms.push(patientSelfRoom(patientId));
  return rooms;
}
