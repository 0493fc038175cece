import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { ConfigError, describeSettings, loadConfig, SETTINGS } from './config.schema.js';
import { ALERTING_SETTINGS } from './schema/alerting.settings.js';
import { AUTH_SETTINGS } from './schema/auth.settings.js';
import { BROKER_SETTINGS } from './schema/broker.settings.js';
import { DATABASE_SETTINGS } from './schema/database.settings.js';
import { HTTP_SETTINGS } from './schema/http.settings.js';
import { INGEST_SETTINGS } from './schema/ingest.settings.js';
import { PROCESS_SETTINGS } from './schema/process.settings.js';
import { RETENTION_SETTINGS } from './schema/retention.settings.js';

describe('loadConfig', () => {
  it('applies defaults and leaves optional settings unset', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.mqttTopicRoot).toBe('lantern/v1');
    expect(config.rawRetention).toBe(90 * 86_400_000);
    expect(config.compressAfter).toBe(7 * 86_400_000);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.mqttUrl).toBeUndefined();
  });

  it('parses given values', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u@127.0.0.1:5432/db',
      RAW_RETENTION: '30d',
      MQTT_TOPIC_ROOT: 'acme/rpm',
    });
    expect(config.port).toBe(8080);
    expect(config.databaseUrl).toBe('postgres://u@127.0.0.1:5432/db');
    expect(config.rawRetention).toBe(30 * 86_400_000);
    expect(config.mqttTopicRoot).toBe('acme/rpm');
  });

  it('lists every problem at once', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        DATABASE_URL: 'mysql://x',
        JWT_SECRET: 'short',
        RAW_RETENTION: '3 weeks',
        MQTT_TOPIC_ROOT: 'a/#',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(5);
    expect(problems.join('\n')).toMatch(/PORT must be an integer/);
    expect(problems.join('\n')).toMatch(/DATABASE_URL must use postgres:\/\/ or postgresql:\/\//);
    expect(problems.join('\n')).toMatch(/JWT_SECRET must be at least 32 characters/);
    expect(problems.join('\n')).toMatch(/RAW_RETENTION must be a duration/);
    expect(problems.join('\n')).toMatch(/MQTT_TOPIC_ROOT/);
  });

  it('refuses a webhook URL without a secret (deliveries would go unsigned), listed with the other problems', () => {
    let error: unknown;
    try {
      loadConfig({ ALERT_WEBHOOK_URL: 'https://hooks.example.org/lantern', PORT: 'eighty' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      "PORT must be an integer, got 'eighty'",
      'ALERT_WEBHOOK_SECRET must be set when ALERT_WEBHOOK_URL is set (webhook deliveries are always signed)',
    ]);
    // An empty value (as docker compose passes an unset variable) counts as unset.
    expect(() =>
      loadConfig({ ALERT_WEBHOOK_URL: 'https://hooks.example.org/lantern', ALERT_WEBHOOK_SECRET: '' }),
    ).toThrow(/ALERT_WEBHOOK_SECRET must be set when ALERT_WEBHOOK_URL is set/);
  });

  it('accepts a webhook URL with its secret, and a secret alone', () => {
    const config = loadConfig({
      ALERT_WEBHOOK_URL: 'https://hooks.example.org/lantern',
      ALERT_WEBHOOK_SECRET: 'webhook-secret-0123456789',
    });
    expect(config.alertWebhookUrl).toBe('https://hooks.example.org/lantern');
    expect(config.alertWebhookSecret).toBe('webhook-secret-0123456789');
    expect(loadConfig({ ALERT_WEBHOOK_SECRET: 'webhook-secret-0123456789' }).alertWebhookUrl).toBeUndefined();
  });

  it('reports a too-short webhook secret once, as too short', () => {
    expect(() =>
      loadConfig({ ALERT_WEBHOOK_URL: 'https://hooks.example.org/lantern', ALERT_WEBHOOK_SECRET: 'short' }),
    ).toThrow(/^Invalid configuration:\n  - ALERT_WEBHOOK_SECRET must be at least 16 characters long$/);
  });

  it('keeps plain MQTT on loopback and TLS on 8883 by default; a certificate needs its key; host lists are checked', () => {
    const config = loadConfig({});
    expect(config.embeddedMqttHost).toBe('127.0.0.1');
    expect(config.embeddedMqttsPort).toBe(8883);
    expect(config.mqttTlsCertFile).toBeUndefined();
    expect(() => loadConfig({ MQTT_TLS_CERT_FILE: '/etc/lantern/broker.crt' })).toThrow(
      /MQTT_TLS_CERT_FILE and MQTT_TLS_KEY_FILE must be set together/,
    );
    expect(loadConfig({ MQTT_TLS_HOSTNAMES: 'broker.example.org, 192.0.2.10,fd00::5' }).mqttTlsHostnames).toEqual([
      'broker.example.org',
      '192.0.2.10',
      'fd00::5',
    ]);
    expect(() => loadConfig({ MQTT_TLS_HOSTNAMES: 'https://broker.example.org' })).toThrow(
      /MQTT_TLS_HOSTNAMES must list host names or IP addresses/,
    );
  });

  it('refuses out-of-range numbers', () => {
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT must be between 0 and 65535, got 70000/);
  });

  it('declares each setting in one section only (a later section never replaces an earlier one)', () => {
    const sections = [
      PROCESS_SETTINGS,
      HTTP_SETTINGS,
      DATABASE_SETTINGS,
      BROKER_SETTINGS,
      AUTH_SETTINGS,
      RETENTION_SETTINGS,
      INGEST_SETTINGS,
      ALERTING_SETTINGS,
    ];
    const declared = sections.flatMap((section) => Object.keys(section));
    expect(Object.keys(SETTINGS).sort()).toEqual([...declared].sort());
    const envs = describeSettings().map(({ env }) => env);
    expect(new Set(envs).size).toBe(envs.length);
  });

  it('is documented setting by setting in docs/configuration.md', () => {
    const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    for (const { env } of describeSettings()) expect(doc).toContain(`\`${env}\``);
  });
});
