import {
  DEVICE_TYPES,
  DEVICE_TYPE_KEYS,
  type DeviceCredentialsResource,
  type DeviceResource,
  type DeviceTypeKey,
} from '@lantern/domain';
import { normalizeDevice, provisionDevice, type Device } from './api.js';
import type { AppContext } from './app-context.js';
import { statusBadge } from './badges.js';
import { h, replace } from './dom.js';
import { age } from './format.js';
import type { PatientSection } from './patient-section.js';
import { deviceProblem } from './store.js';

/** "Devices": the patient's devices with their state, and provisioning a new one with its credentials. */
export class PatientDevicesSection implements PatientSection {
  private readonly deviceList = h('div', { class: 'device-list' });
  private readonly credentialsBox = h('div', {
    class: 'credentials',
    hidden: true,
    role: 'region',
    'aria-label': 'New device credentials',
  });
  readonly element: HTMLElement;
  private devices: Device[] = [];
  private readonly offDevice: () => void;
  /** "last seen 3 min ago" ages while nothing happens. */
  private readonly ticker = window.setInterval(() => this.render(), 30_000);

  constructor(
    private readonly patientId: string,
    private readonly ctx: AppContext,
    /** A device was provisioned (it is in `list` already): its metrics may need charts. */
    private readonly provisioned: () => void,
  ) {
    this.element = h(
      'section',
      { class: 'card', 'aria-labelledby': 'h-devices' },
      h('h2', { id: 'h-devices' }, 'Devices'),
      this.deviceList,
      this.credentialsBox,
      this.provisionForm(),
    );
    this.offDevice = ctx.live.on('device', (e) => {
      const device = this.devices.find((d) => d.id === e.deviceId);
      if (!device) return;
      Object.assign(device, {
        online: e.online,
        battery: e.battery ?? device.battery,
        lastSeenAt: e.lastSeenAt ?? device.lastSeenAt,
      });
      this.render();
    });
  }

  /** The patient's devices now. */
  get list(): readonly Device[] {
    return this.devices;
  }

  /** Takes the devices the page loaded (first load, catch-up); call `render` after. */
  show(devices: Device[]): void {
    this.devices = devices;
  }

  render(): void {
    replace(
      this.deviceList,
      this.devices.length ? null : h('p', { class: 'muted' }, 'No devices yet.'),
      h(
        'ul',
        { class: 'devices' },
        this.devices.map((d) => {
          const problem = deviceProblem(d);
          return h(
            'li',
            { 'data-device-id': d.id },
            h('strong', {}, DEVICE_TYPES[d.type]?.label ?? d.type),
            d.serial ? ` · ${d.serial}` : '',
            ' ',
            statusBadge(problem === null, d.online ? 'Online' : 'Offline', problem ?? ''),
            d.battery !== null ? ` · battery ${d.battery}%` : '',
            ` · last seen ${age(d.lastSeenAt)}`,
          );
        }),
      ),
    );
  }

  dispose(): void {
    window.clearInterval(this.ticker);
    this.offDevice();
  }

  private showCredentials(device: DeviceResource, credentials: DeviceCredentialsResource): void {
    const box = this.credentialsBox;
    box.hidden = false;
    const rows = Object.entries(credentials).map(([k, v]) => [
      h('dt', {}, k),
      h('dd', {}, h('code', { 'data-credential': k }, String(v))),
    ]);
    replace(
      box,
      h('h3', {}, `Credentials for the new ${DEVICE_TYPES[device.type]?.label ?? device.type}`),
      h('p', { class: 'warning' }, '⚠ Copy these now: the password is shown only once and cannot be retrieved later.'),
      h('dl', {}, rows.flat()),
      h('button', { type: 'button', onclick: () => ((box.hidden = true), replace(box)) }, 'I have copied them — hide'),
    );
    box.focus();
  }

  private provisionForm(): HTMLFormElement {
    const type = h(
      'select',
      { name: 'type', required: true },
      DEVICE_TYPE_KEYS.map((k) => h('option', { value: k }, DEVICE_TYPES[k].label)),
    );
    const serial = h('input', { name: 'serial', placeholder: 'Serial (optional)', autocomplete: 'off' });
    const model = h('input', { name: 'model', placeholder: 'Model (optional)', autocomplete: 'off' });
    const form = h(
      'form',
      { class: 'provision', 'aria-label': 'Provision a device' },
      h('label', {}, 'Type ', type),
      serial,
      model,
      h('button', { type: 'submit', class: 'primary' }, 'Provision device'),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void (async () => {
        try {
          const { credentials, ...device } = await provisionDevice({
            patientId: this.patientId,
            type: type.value as DeviceTypeKey,
            serial: serial.value || undefined,
            model: model.value || undefined,
          });
          this.devices.push(normalizeDevice(device));
          form.reset();
          this.render();
          this.showCredentials(device, credentials);
          this.provisioned();
        } catch (error) {
          this.ctx.toast(`Could not provision: ${(error as Error).message}`, 'error');
        }
      })();
    });
    return form;
  }
}
