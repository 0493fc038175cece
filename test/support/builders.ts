import { randomBytes } from 'node:crypto';
import type request from 'supertest';
import type { DataSource } from 'typeorm';
import type { Principal } from '@lantern/auth';
import type { DeviceTypeKey, Role } from '@lantern/domain';
import type { LoginResponseDto } from '../../apps/api/src/auth/auth.dto.js';
import type { InvitedCaregiverDto } from '../../apps/api/src/care-circle/care-circle.dto.js';
import { bodyOf } from './http.js';

/** A patient and one device of theirs, as most ingest tests need them. */
export interface SeededDevice {
  readonly id: string;
  readonly patientId: string;
}

/**
 * Rows straight into the tables, for tests that need data but are not about how it is made: they
 * then depend on nothing but the schema, and build in milliseconds. Tests about the API build
 * through it instead ({@link ApiData}).
 */
export class TestData {
  constructor(private readonly db: DataSource) {}

  async patient(name = 'Test Patient'): Promise<string> {
    const [row] = await this.db.query<{ id: string }[]>(
      `INSERT INTO patients (display_name) VALUES ($1) RETURNING id::text`,
      [name],
    );
    return row.id;
  }

  /** A user who cannot log in with a password (its hash is not one): sign it in with the api's `session`. */
  async user(role: Role, patientId?: string): Promise<Principal> {
    const email = `${role}-${randomBytes(4).toString('hex')}@test.local`;
    const [row] = await this.db.query<{ id: string }[]>(
      `INSERT INTO users (email, password_hash, role, display_name, patient_id) VALUES ($1, 'x', $2, $1, $3) RETURNING id::text`,
      [email, role, patientId ?? null],
    );
    return patientId === undefined ? { userId: row.id, role, email } : { userId: row.id, role, email, patientId };
  }

  async careTeam(patientId: string, clinicianId: string): Promise<void> {
    await this.db.query(`INSERT INTO care_team_members (patient_id, clinician_id) VALUES ($1, $2)`, [
      patientId,
      clinicianId,
    ]);
  }

  /** A device whose secret matches nothing: tests publish on the test broker, which asks for none. */
  async device(
    patientId: string,
    type: DeviceTypeKey,
    options: { createdAt?: Date; decommissioned?: boolean } = {},
  ): Promise<string> {
    const [row] = await this.db.query<{ id: string }[]>(
      `INSERT INTO devices (patient_id, type, secret_hash, created_at, decommissioned_at)
       VALUES ($1, $2, 'sha256:x', coalesce($3, now()), $4) RETURNING id::text`,
      [patientId, type, options.createdAt ?? null, options.decommissioned ? new Date() : null],
    );
    return row.id;
  }

  /** A new patient with one device of `type` (the provisioning API is not under test where this is used). */
  async patientWithDevice(
    type: DeviceTypeKey = 'pulse_oximeter',
    options: { decommissioned?: boolean } = {},
  ): Promise<SeededDevice> {
    const patientId = await this.patient();
    return { id: await this.device(patientId, type, options), patientId };
  }

  /** An open alert as the ingest would have raised it, without the readings behind it. */
  async alert(
    patientId: string,
    {
      rule,
      metric = 'glucose',
      priority = 'high',
      message = 'test alert',
    }: { rule: string; metric?: string | null; priority?: 'high' | 'medium' | 'low'; message?: string },
  ): Promise<string> {
    const [row] = await this.db.query<{ id: string }[]>(
      `INSERT INTO alerts (patient_id, rule, metric, priority, state, message, opened_at, last_triggered_at)
       VALUES ($1, $2, $3, $4, 'open', $5, now(), now()) RETURNING id::text`,
      [patientId, rule, metric, priority, message],
    );
    return row.id;
  }
}

/** What an admin creates over REST for a user: the body of POST /users. */
export interface NewUser {
  readonly email: string;
  readonly password: string;
  readonly role: Role;
  readonly displayName: string;
  readonly patientId?: string;
}

/**
 * The same people and devices made through the public API as a signed-in admin, for tests about
 * the API (care circle, escalation, push): every row then went through validation, access rules
 * and the audit log as a clinic's would.
 */
export class ApiData {
  constructor(
    private readonly http: ReturnType<typeof request>,
    private readonly adminToken: string,
  ) {}

  /** POSTs as the admin; throws with the answer on a non-2xx status. Returns the created id. */
  async create(path: string, body: object): Promise<string> {
    const res = await this.http
      .post(path)
      .set({ Authorization: `Bearer ${this.adminToken}` })
      .send(body);
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return bodyOf<{ id: string }>(res).id;
  }

  user(user: NewUser): Promise<string> {
    return this.create('/api/v1/users', user);
  }

  patient(displayName: string): Promise<string> {
    return this.create('/api/v1/patients', { displayName });
  }

  async careTeam(patientId: string, clinicianId: string): Promise<void> {
    await this.create(`/api/v1/patients/${patientId}/care-team`, { clinicianId });
  }

  device(patientId: string, type: DeviceTypeKey): Promise<string> {
    return this.create('/api/v1/devices', { patientId, type });
  }

  /**
   * The cast most API tests start from: Dr Reyes (reyes@clinic.test) on the care team of Ana Souza,
   * who signs in as ana@home.test and wears a CGM. Everyone has `password`.
   */
  async clinic(
    password: string,
  ): Promise<{ clinicianId: string; patientId: string; patientUserId: string; cgmId: string }> {
    const clinicianId = await this.user({
      email: 'reyes@clinic.test',
      password,
      role: 'clinician',
      displayName: 'Dr Reyes',
    });
    const patientId = await this.patient('Ana Souza');
    await this.careTeam(patientId, clinicianId);
    const patientUserId = await this.user({
      email: 'ana@home.test',
      password,
      role: 'patient',
      displayName: 'Ana',
      patientId,
    });
    return { clinicianId, patientId, patientUserId, cgmId: await this.device(patientId, 'cgm') };
  }

  /** `patientToken`'s patient invites `email` with `scopes`, who accepts: the share id and the caregiver's token. */
  async caregiver(
    patientToken: string,
    invitation: { email: string; scopes: string[]; name?: string; password: string },
  ): Promise<{ shareId: string; token: string }> {
    const { password, ...invite } = invitation;
    const invited = bodyOf<InvitedCaregiverDto>(
      await this.http
        .post('/api/v1/me/caregivers')
        .set({ Authorization: `Bearer ${patientToken}` })
        .send(invite)
        .expect(201),
    );
    const accepted = await this.http
      .post('/api/v1/auth/accept-invitation')
      .send({ token: invited.invitation.token, password, ...(invite.name !== undefined && { name: invite.name }) })
      .expect(200);
    return { shareId: invited.id, token: bodyOf<LoginResponseDto>(accepted).accessToken };
  }
}
