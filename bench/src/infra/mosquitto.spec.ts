import { describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { mosquittoConfig, noLossSettings } from './mosquitto.js';

const shipped = fileURLToPath(new URL('../../../docker/mosquitto.conf', import.meta.url));
const NO_LOSS = [
  'max_queued_messages 0',
  'max_queued_bytes 0',
  'max_inflight_messages 0',
  'max_inflight_bytes 0',
  'upgrade_outgoing_qos false',
  'queue_qos0_messages false',
  'max_packet_size 16777216',
  'set_tcp_nodelay true',
  'retain_available true',
];
const asRoot = process.getuid?.() === 0 ? ['user root'] : [];

describe('mosquittoConfig', () => {
  it("takes docker/mosquitto.conf's queue and in-flight limits, not its listeners, auth or persistence", () => {
    expect(noLossSettings(shipped)).toEqual(NO_LOSS);
  });

  it("writes the tests' broker: no-loss limits, one loopback listener, anonymous, no persistence", () => {
    expect(mosquittoConfig({ port: 1884, shippedConf: shipped }).split('\n')).toEqual([
      ...NO_LOSS,
      'listener 1884 127.0.0.1',
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      '',
    ]);
  });

  it("writes the bench's broker: persistence, no connection limit, a TLS listener with its own certificate", () => {
    const config = mosquittoConfig({
      port: 1884,
      shippedConf: shipped,
      maxConnections: -1,
      persistence: { dir: '/work/mosquitto', autosaveIntervalSec: 30 },
      tls: { port: 8884, certFile: '/work/tls/broker.crt', keyFile: '/work/tls/broker.key' },
    });
    expect(config.split('\n')).toEqual([
      ...NO_LOSS,
      'listener 1884 127.0.0.1',
      'max_connections -1',
      'allow_anonymous true',
      'persistence true',
      'persistence_location /work/mosquitto/',
      ...asRoot,
      'autosave_interval 30',
      'listener 8884 127.0.0.1',
      'certfile /work/tls/broker.crt',
      'keyfile /work/tls/broker.key',
      'log_dest stderr',
      'log_type error',
      '',
    ]);
  });

  it("with a password file refuses anonymous clients; without docker's file keeps Mosquitto's defaults", () => {
    const config = mosquittoConfig({
      port: 1884,
      host: '0.0.0.0',
      passwordFile: '/work/passwd',
      extra: ['max_keepalive 60'],
    });
    expect(config.split('\n')).toEqual([
      'max_keepalive 60',
      'listener 1884 0.0.0.0',
      'allow_anonymous false',
      'password_file /work/passwd',
      'persistence false',
      ...asRoot,
      'log_dest stderr',
      'log_type error',
      '',
    ]);
  });
});
