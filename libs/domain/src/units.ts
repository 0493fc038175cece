import { METRICS, type MetricDefinition, type MetricKey } from './metric-catalog.js';

export type Conversion = { ok: true; value: number } | { ok: false; reason: string };

/**
 * Converts a value given in `unit` (canonical when absent) to the metric's canonical unit.
 * Pure; the reason text is what a device sees on its errors topic.
 */
export function toCanonical(metric: MetricKey, value: number, unit?: string): Conversion {
  const def: MetricDefinition = METRICS[metric];
  if (unit === undefined || unit === def.unit) return { ok: true, value };
  const conversion = def.accepts.find((c) => c.unit === unit);
  if (!conversion) return { ok: false, reason: `unit '${unit}' not convertible to ${def.unit}` };
  return { ok: true, value: conversion.toCanonical(value) };
}

/** True when a canonical value lies within the metric's plausible range. */
export function isPlausible(metric: MetricKey, canonicalValue: number): boolean {
  const { min, max } = METRICS[metric].plausible;
  return canonicalValue >= min && canonicalValue <= max;
}

/** Rounds a canonical value for display, per the metric's precision. */
export function roundForDisplay(metric: MetricKey, value: number): number {
  const factor = 10 ** METRICS[metric].decimals;
  return Math.round(value * factor) / factor;
}

/** "48 mg/dL", for clinicians. */
export function formatValue(metric: MetricKey, value: number): string {
  const def: MetricDefinition = METRICS[metric];
  const unit = def.unitDisplay === '%' ? '%' : ` ${def.unitDisplay}`;
  return `${roundForDisplay(metric, value)}${unit}`;
}

/** "48 milligrams per decilitre", for patients. */
export function formatValueSpoken(metric: MetricKey, value: number): string {
  return `${roundForDisplay(metric, value)} ${METRICS[metric].unitSpoken}`;
}
