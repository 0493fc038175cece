import { isIP } from 'node:net';
import { int, text, url } from './parsers.js';
import { isSet, ParseError, type CrossCheck, type Setting } from './setting.js';

const topicRoot = (raw: string): string | ParseError =>
  /^[^#+$/][^#+]*[^/#+]$|^[^#+$/]$/.test(raw)
    ? raw
    : new ParseError("must be a topic prefix without '+', '#', a leading '$' or leading/trailing '/'");

/** "broker.example.org, 192.168.1.20": host names and IP addresses, for a certificate's subjectAltName. */
const hostList = (raw: string): string[] | ParseError => {
  const list = raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  for (const item of list)
    if (isIP(item) === 0 && !/^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/i.test(item))
      return new ParseError(`must list host names or IP addresses, got '${item}'`);
  return list.length > 0 ? list : new ParseError('must name at least one host');
};

/**
 * The MQTT broker: an external one (its URL, topic root, Lantern's credential there, the CA to
 * trust) or the embedded one (its plain and TLS listeners, and their certificate).
 */
export const BROKER_SETTINGS = {
  mqttUrl: {
    env: 'MQTT_URL',
    description: 'Broker URL. Unset: an embedded aedes broker is started on EMBEDDED_MQTT_PORT.',
    parse: url('mqtt:', 'mqtts:', 'tcp:', 'ws:', 'wss:'),
  },
  mqttTopicRoot: {
    env: 'MQTT_TOPIC_ROOT',
    description: 'Prefix of every topic ({root} in the contract).',
    default: 'lantern/v1',
    parse: topicRoot,
  },
  mqttUsername: {
    env: 'MQTT_USERNAME',
    description: "Lantern's own service credential at the broker (user name).",
    default: 'lantern-service',
    parse: text(),
  },
  mqttPassword: {
    env: 'MQTT_PASSWORD',
    description:
      "Lantern's service password at the broker (≥ 16 characters). Unset with the embedded broker: a random one (32 characters) per start.",
    parse: text(16),
  },
  mqttHookSecret: {
    env: 'MQTT_HOOK_SECRET',
    description:
      'Shared secret an external broker presents to the HTTP auth hooks /api/v1/mqtt/* (≥ 32 characters; docs/security.md). Unset: the hooks answer 401 to every call.',
    parse: text(32),
  },
  embeddedMqttPort: {
    env: 'EMBEDDED_MQTT_PORT',
    description: "Port of the embedded broker's plain (unencrypted) MQTT listener, on EMBEDDED_MQTT_HOST.",
    default: '1883',
    parse: int(0, 65535),
  },
  embeddedMqttHost: {
    env: 'EMBEDDED_MQTT_HOST',
    description:
      "Address of the embedded broker's plain MQTT listener: loopback, for Lantern's own processes and local tools. 0.0.0.0 puts device secrets and readings on the network in clear: devices use EMBEDDED_MQTTS_PORT.",
    default: '127.0.0.1',
    parse: text(),
  },
  embeddedMqttsPort: {
    env: 'EMBEDDED_MQTTS_PORT',
    description: "Port of the embedded broker's MQTT-over-TLS listener (mqtts://), the one devices use.",
    default: '8883',
    parse: int(0, 65535),
  },
  embeddedMqttsHost: {
    env: 'EMBEDDED_MQTTS_HOST',
    description: "Address of the embedded broker's TLS listener.",
    default: '0.0.0.0',
    parse: text(),
  },
  mqttTlsCertFile: {
    env: 'MQTT_TLS_CERT_FILE',
    description:
      "PEM certificate (chain allowed) of the embedded broker's TLS listener, with MQTT_TLS_KEY_FILE. Unset: a self-signed one generated into DATA_DIR/mqtt-tls/ on first start (its SHA-256 fingerprint printed at every start).",
    parse: text(),
  },
  mqttTlsKeyFile: {
    env: 'MQTT_TLS_KEY_FILE',
    description: 'PEM private key of MQTT_TLS_CERT_FILE (keep it at mode 0600).',
    parse: text(),
  },
  mqttTlsHostnames: {
    env: 'MQTT_TLS_HOSTNAMES',
    description:
      'Comma-separated host names and IP addresses devices use to reach the embedded broker, added to the generated certificate (beside localhost, loopback, the host name and its current addresses); a name missing from the kept certificate makes a new one.',
    parse: hostList,
  },
  mqttCaFile: {
    env: 'MQTT_CA_FILE',
    description:
      "PEM CA certificate(s) Lantern's own processes trust, instead of the system's, when MQTT_URL is mqtts:// or wss:// (a private CA, or the broker's self-signed certificate itself).",
    parse: text(),
  },
} as const satisfies Record<string, Setting<unknown>>;

/** Rules between the broker's settings. */
export const BROKER_CHECKS: readonly CrossCheck[] = [
  // Half a pair would silently fall back to the generated certificate: devices pinning the configured one fail.
  (env) =>
    isSet(env, BROKER_SETTINGS.mqttTlsCertFile.env) !== isSet(env, BROKER_SETTINGS.mqttTlsKeyFile.env)
      ? `${BROKER_SETTINGS.mqttTlsCertFile.env} and ${BROKER_SETTINGS.mqttTlsKeyFile.env} must be set together`
      : undefined,
];
