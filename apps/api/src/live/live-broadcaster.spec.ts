import { describe, expect, it } from '@jest/globals';
import { METRIC_KEYS, SHARING_SCOPES, sharesAlert, sharesMetric, type SharingScope } from '@lantern/domain';
import { sharedAudienceOf, sharedRoomsOf } from './live-broadcaster.js';

const P = '11111111-1111-4111-8111-111111111111';

/** Every subset of the scopes: 512 of them. */
function allScopeSets(): Set<SharingScope>[] {
  return Array.from(
    { length: 2 ** SHARING_SCOPES.length },
    (_, mask) => new Set(SHARING_SCOPES.filter((_, i) => (mask & (2 ** i)) !== 0)),
  );
}

/** Whether a caregiver's socket with `scopes` receives an event sent to its audience. */
function receives(scopes: ReadonlySet<SharingScope>, audience: string | undefined): boolean {
  return audience !== undefined && sharedRoomsOf(P, scopes).includes(audience);
}

describe('live rooms of caregivers say what libs/domain says they may see', () => {
  it('a reading reaches exactly the caregivers whose scopes share its metric', () => {
    for (const scopes of allScopeSets())
      for (const metric of METRIC_KEYS)
        expect([metric, [...scopes], receives(scopes, sharedAudienceOf(P, 'reading', { metric }))]).toEqual([
          metric,
          [...scopes],
          sharesMetric(scopes, metric),
        ]);
  });

  it('an alert reaches exactly the caregivers whose scopes share it (alerts, and its metric when it has one)', () => {
    for (const scopes of allScopeSets())
      for (const metric of [...METRIC_KEYS, null])
        expect([metric, [...scopes], receives(scopes, sharedAudienceOf(P, 'alert', { metric }))]).toEqual([
          metric,
          [...scopes],
          sharesAlert(scopes, { metric }),
        ]);
  });

  it('devices and notifications reach only caregivers with that scope', () => {
    for (const scopes of allScopeSets()) {
      expect(receives(scopes, sharedAudienceOf(P, 'device', {}))).toBe(scopes.has('devices'));
      expect(receives(scopes, sharedAudienceOf(P, 'notification', {}))).toBe(scopes.has('notifications'));
    }
  });

  it("never puts a caregiver in another patient's rooms", () => {
    const other = '22222222-2222-4222-8222-222222222222';
    const everything = new Set(SHARING_SCOPES);
    expect(sharedRoomsOf(P, everything).some((room) => room.includes(other))).toBe(false);
    expect(receives(everything, sharedAudienceOf(other, 'reading', { metric: 'glucose' }))).toBe(false);
  });
});
