import { randomBytes } from 'node:crypto';
import type { DeviceTypeKey } from '@lantern/domain';

/** One login the seed created, as printed for the operator. */
export interface DemoLogin {
  readonly role: 'clinician' | 'patient';
  readonly email: string;
  readonly password: string;
  readonly displayName: string;
}

/** A provisioned demo device with the credentials the simulator needs. */
export interface DemoDevice {
  readonly patientId: string;
  readonly patientName: string;
  readonly deviceId: string;
  readonly type: DeviceTypeKey;
  readonly username: string;
  readonly password: string;
  readonly telemetryTopic: string;
  readonly statusTopic: string;
  readonly errorsTopic: string;
}

export interface DemoSeedResult {
  /** False when the demo care team already existed (nothing was created). */
  readonly created: boolean;
  readonly logins: DemoLogin[];
  readonly devices: DemoDevice[];
}

export interface SeedDemoOptions {
  /** Base URL of a running api, e.g. http://127.0.0.1:3000. */
  readonly baseUrl: string;
  readonly adminEmail: string;
  readonly adminPassword: string;
}

const CLINICIANS = [
  { email: 'dr.chen@demo.lantern', displayName: 'Dr. Mei Chen' },
  { email: 'nurse.okafor@demo.lantern', displayName: 'Nurse Chidi Okafor' },
] as const;

/** A dozen patients: conditions chosen so every device type and most alert rules have someone to fire on. */
const PATIENTS: readonly { name: string; born: string; devices: DeviceTypeKey[]; team: (0 | 1)[] }[] = [
  { name: 'Ana Souza', born: '1958-04-12', devices: ['cgm', 'wearable_patch'], team: [0] },
  { name: 'Bilal Haddad', born: '1949-11-03', devices: ['cardiac_implant', 'weight_scale', 'bp_monitor'], team: [0] },
  { name: 'Carmen Ruiz', born: '1971-07-21', devices: ['cgm'], team: [0] },
  { name: 'David Kim', born: '1944-02-09', devices: ['pulse_oximeter', 'wearable_patch'], team: [0] },
  { name: 'Elif Yilmaz', born: '1983-09-30', devices: ['cgm', 'pulse_oximeter'], team: [0] },
  { name: 'Frank Mueller', born: '1952-12-17', devices: ['cardiac_implant', 'bp_monitor'], team: [0, 1] },
  { name: 'Grace Mensah', born: '1966-05-05', devices: ['bp_monitor', 'weight_scale'], team: [1] },
  { name: 'Hiro Tanaka', born: '1939-08-14', devices: ['pulse_oximeter'], team: [1] },
  { name: 'Ines Duarte', born: '1990-01-26', devices: ['cgm', 'wearable_patch'], team: [1] },
  { name: 'Jonas Berg', born: '1955-03-08', devices: ['cardiac_implant', 'weight_scale'], team: [1] },
  { name: 'Kavya Iyer', born: '1978-10-19', devices: ['wearable_patch', 'pulse_oximeter'], team: [1] },
  { name: 'Luis Ortega', born: '1947-06-02', devices: ['bp_monitor', 'cgm'], team: [1] },
];

const password = (): string => randomBytes(12).toString('base64url');
const emailOf = (name: string): string => `${name.toLowerCase().replace(/[^a-z]+/g, '.')}@demo.lantern`;

/**
 * Creates the demo care team through the REST API of a running Lantern (so it is validated and
 * audited like any client's requests): two clinicians, twelve patients with their devices, a login
 * per patient. Passwords are random per run and returned; running it twice creates nothing new.
 */
export async function seedDemo(options: SeedDemoOptions): Promise<DemoSeedResult> {
  const call = async <T>(method: string, path: string, token?: string, body?: unknown): Promise<T> => {
    const res = await fetch(new URL(`/api/v1${path}`, options.baseUrl), {
      method,
      headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };

  const { accessToken: admin } = await call<{ accessToken: string }>('POST', '/auth/login', undefined, {
    email: options.adminEmail,
    password: options.adminPassword,
  });
  const existing = await call<{ email: string }[]>('GET', '/users?role=clinician', admin);
  if (existing.some((u) => u.email === CLINICIANS[0].email)) return { created: false, logins: [], devices: [] };

  const logins: DemoLogin[] = [];
  const devices: DemoDevice[] = [];
  const clinicianIds: string[] = [];
  for (const clinician of CLINICIANS) {
    const login: DemoLogin = { role: 'clinician', password: password(), ...clinician };
    clinicianIds.push(
      (
        await call<{ id: string }>('POST', '/users', admin, {
          ...clinician,
          password: login.password,
          role: 'clinician',
        })
      ).id,
    );
    logins.push(login);
  }
  for (const patient of PATIENTS) {
    const { id } = await call<{ id: string }>('POST', '/patients', admin, {
      displayName: patient.name,
      dateOfBirth: patient.born,
    });
    for (const member of patient.team)
      await call('POST', `/patients/${id}/care-team`, admin, { clinicianId: clinicianIds[member] });
    const login: DemoLogin = {
      role: 'patient',
      email: emailOf(patient.name),
      password: password(),
      displayName: patient.name,
    };
    await call('POST', '/users', admin, {
      email: login.email,
      password: login.password,
      role: 'patient',
      displayName: patient.name,
      patientId: id,
    });
    logins.push(login);
    for (const [index, type] of patient.devices.entries()) {
      const device = await call<{
        id: string;
        credentials: Omit<DemoDevice, 'patientId' | 'patientName' | 'deviceId' | 'type'>;
      }>('POST', '/devices', admin, {
        patientId: id,
        type,
        serial: `DEMO-${type.toUpperCase()}-${String(devices.length + index + 1).padStart(3, '0')}`,
      });
      devices.push({ patientId: id, patientName: patient.name, deviceId: device.id, type, ...device.credentials });
    }
  }
  return { created: true, logins, devices };
}
