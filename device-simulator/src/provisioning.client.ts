import type { DeviceTypeKey } from '@lantern/domain';
import type { DeviceCredentials } from './device-client.js';

/** Provisions virtual patients and devices through Lantern's REST API (contract §3.1, §3.2). */
export class ProvisioningClient {
  private token: string | undefined;

  constructor(private readonly baseUrl: string) {}

  /** POST /api/v1/auth/login; the token is kept for the next calls. */
  async login(email: string, password: string): Promise<void> {
    const body = await this.request<{ accessToken: string }>('POST', '/auth/login', { email, password });
    this.token = body.accessToken;
  }

  /** POST /api/v1/patients (admin or clinician). */
  async createPatient(
    displayName: string,
    extra: { dateOfBirth?: string; mrn?: string } = {},
  ): Promise<{ id: string; displayName: string }> {
    return this.request('POST', '/patients', { displayName, ...extra });
  }

  /** POST /api/v1/devices; the answer carries the only copy of the device secret. */
  async createDevice(
    patientId: string,
    type: DeviceTypeKey,
    serial?: string,
  ): Promise<DeviceCredentials & { telemetryTopic: string }> {
    const body = await this.request<{
      id: string;
      credentials: { username: string; password: string; telemetryTopic: string };
    }>('POST', '/devices', {
      patientId,
      type,
      serial,
      model: 'Lantern virtual device',
    });
    return {
      deviceId: body.credentials.username ?? body.id,
      secret: body.credentials.password,
      telemetryTopic: body.credentials.telemetryTopic,
    };
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl.replace(/\/$/, '')}/api/v1${path}`;
    const response = await fetch(url, {
      method,
      headers: { 'content-type': 'application/json', ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${url} answered ${response.status}: ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }
}
