import {
  DEVICE_TYPES,
  METRICS,
  formatValue,
  formatValueSpoken,
  isDeviceTypeKey,
  isMetricKey,
  type MetricKey,
} from '@lantern/domain';
import type { LatestReading } from './api.js';

/** "just now", "3 min ago", "2 h ago", "4 d ago": how old a value is, for clinicians. */
export function age(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const sec = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (sec < 45) return 'just now';
  if (sec < 3600) return `${Math.round(sec / 60)} min ago`;
  if (sec < 86400 * 2) return `${Math.round(sec / 3600)} h ago`;
  return `${Math.round(sec / 86400)} d ago`;
}

/** "3 minutes ago", "2 hours ago", in plain words for patients. */
export function ageSpoken(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const sec = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'} ago`;
  if (sec < 60) return 'less than a minute ago';
  if (sec < 3600) return plural(Math.round(sec / 60), 'minute');
  if (sec < 86400 * 2) return plural(Math.round(sec / 3600), 'hour');
  return plural(Math.round(sec / 86400), 'day');
}

/**
 * Since when the value's device has been lost (contract §4.4), or null while it is heard: the
 * server said `monitoring: "lost"`, or — the page staying open — nothing newer came for longer
 * than the device type's signal-loss time. A lost value is shown as "We cannot see this device
 * since …", never as a current value.
 */
export function lostSince(r: LatestReading, deviceType: string | undefined, now = Date.now()): string | null {
  if (r.monitoring === 'lost') return r.since ?? r.ts;
  if (deviceType === undefined || !isDeviceTypeKey(deviceType)) return null;
  return now - Date.parse(r.ts) > DEVICE_TYPES[deviceType].signalLossAfterSec * 1000 ? r.ts : null;
}

export function clock(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  const sameDay = new Date().toDateString() === d.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function metricLabel(metric: string): string {
  return isMetricKey(metric) ? METRICS[metric].label : metric;
}

export function value(metric: string, v: number): string {
  return isMetricKey(metric) ? formatValue(metric, v) : String(v);
}

export function valueSpoken(metric: string, v: number): string {
  return isMetricKey(metric) ? formatValueSpoken(metric, v) : String(v);
}

export function unitDisplay(metric: MetricKey): string {
  return METRICS[metric].unitDisplay;
}

/** "glucose.urgent_low" → "Glucose urgent low". */
export function ruleLabel(key: string): string {
  const text = key.replace(/[._]/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** "today 14:02", "yesterday 14:02", "3 Dec 14:02": when something happened, for patients. */
export function whenSpoken(iso: string, now = new Date()): string {
  const d = new Date(iso);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const startOfDay = (x: Date): number => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((startOfDay(now) - startOfDay(d)) / 86_400_000);
  if (days === 0) return `today ${time}`;
  if (days === 1) return `yesterday ${time}`;
  return `${d.toLocaleDateString([], { day: 'numeric', month: 'short' })} ${time}`;
}
